// RocketMQ's request and response codes (Java RequestCode / ResponseCode), the subset Stele serves
// or sends. Numbers are wire facts; names follow Java's.
#pragma once

#include <cstdint>

namespace stele::remoting {

namespace request {
constexpr int32_t kSendMessage = 10;
constexpr int32_t kPullMessage = 11;
constexpr int32_t kQueryMessage = 12;
constexpr int32_t kQueryConsumerOffset = 14;
constexpr int32_t kUpdateConsumerOffset = 15;
constexpr int32_t kUpdateAndCreateTopic = 17;
constexpr int32_t kGetAllTopicConfig = 21;
constexpr int32_t kUpdateBrokerConfig = 25;
constexpr int32_t kGetBrokerConfig = 26;
constexpr int32_t kGetBrokerRuntimeInfo = 28;
constexpr int32_t kSearchOffsetByTimestamp = 29;
constexpr int32_t kGetMaxOffset = 30;
constexpr int32_t kGetMinOffset = 31;
constexpr int32_t kGetEarliestMsgStoretime = 32;
constexpr int32_t kViewMessageById = 33;
constexpr int32_t kHeartBeat = 34;
constexpr int32_t kUnregisterClient = 35;
constexpr int32_t kConsumerSendMsgBack = 36;
constexpr int32_t kEndTransaction = 37;
constexpr int32_t kGetConsumerListByGroup = 38;
constexpr int32_t kCheckTransactionState = 39;
constexpr int32_t kNotifyConsumerIdsChanged = 40;
constexpr int32_t kLockBatchMq = 41;
constexpr int32_t kUnlockBatchMq = 42;
constexpr int32_t kGetAllConsumerOffset = 43;
constexpr int32_t kGetAllDelayOffset = 45;
constexpr int32_t kCheckClientConfig = 46;
constexpr int32_t kPutKvConfig = 100;
constexpr int32_t kGetKvConfig = 101;
constexpr int32_t kDeleteKvConfig = 102;
constexpr int32_t kRegisterBroker = 103;
constexpr int32_t kUnregisterBroker = 104;
constexpr int32_t kGetRouteinfoByTopic = 105;
constexpr int32_t kGetBrokerClusterInfo = 106;
constexpr int32_t kUpdateAndCreateSubscriptionGroup = 200;
constexpr int32_t kGetAllSubscriptionGroupConfig = 201;
constexpr int32_t kGetTopicStatsInfo = 202;
constexpr int32_t kGetConsumerConnectionList = 203;
constexpr int32_t kGetProducerConnectionList = 204;
constexpr int32_t kWipeWritePermOfBroker = 205;
constexpr int32_t kGetAllTopicListFromNameserver = 206;
constexpr int32_t kDeleteSubscriptionGroup = 207;
constexpr int32_t kGetConsumeStats = 208;
constexpr int32_t kDeleteTopicInBroker = 215;
constexpr int32_t kDeleteTopicInNamesrv = 216;
constexpr int32_t kResetConsumerClientOffset = 220;
constexpr int32_t kInvokeBrokerToResetOffset = 222;
constexpr int32_t kGetKvlistByNamespace = 219;
constexpr int32_t kGetTopicsByCluster = 224;
constexpr int32_t kQueryTopicConsumeByWho = 300;
constexpr int32_t kGetConsumerRunningInfo = 307;
constexpr int32_t kConsumeMessageDirectly = 309;
constexpr int32_t kSendMessageV2 = 310;
constexpr int32_t kUpdateNamesrvConfig = 318;
constexpr int32_t kGetNamesrvConfig = 319;
constexpr int32_t kSendBatchMessage = 320;
constexpr int32_t kQueryDataVersion = 322;
constexpr int32_t kAddWritePermOfBroker = 327;
constexpr int32_t kQueryTopicsByConsumer = 343;
constexpr int32_t kBrokerHeartbeat = 904;
}  // namespace request

namespace response {
constexpr int32_t kSuccess = 0;
constexpr int32_t kSystemError = 1;
constexpr int32_t kSystemBusy = 2;
constexpr int32_t kRequestCodeNotSupported = 3;
constexpr int32_t kTransactionFailed = 4;
constexpr int32_t kFlushDiskTimeout = 10;
constexpr int32_t kSlaveNotAvailable = 11;
constexpr int32_t kFlushSlaveTimeout = 12;
constexpr int32_t kMessageIllegal = 13;
constexpr int32_t kServiceNotAvailable = 14;
constexpr int32_t kVersionNotSupported = 15;
constexpr int32_t kNoPermission = 16;
constexpr int32_t kTopicNotExist = 17;
constexpr int32_t kTopicExistAlready = 18;
constexpr int32_t kPullNotFound = 19;
constexpr int32_t kPullRetryImmediately = 20;
constexpr int32_t kPullOffsetMoved = 21;
constexpr int32_t kQueryNotFound = 22;
constexpr int32_t kSubscriptionParseFailed = 23;
constexpr int32_t kSubscriptionNotExist = 24;
constexpr int32_t kSubscriptionNotLatest = 25;
constexpr int32_t kSubscriptionGroupNotExist = 26;
constexpr int32_t kFilterDataNotExist = 27;
constexpr int32_t kFilterDataNotLatest = 28;
constexpr int32_t kTransactionShouldCommit = 200;
constexpr int32_t kTransactionShouldRollback = 201;
constexpr int32_t kTransactionStateUnknow = 202;
constexpr int32_t kTransactionStateGroupWrong = 203;
constexpr int32_t kNoBuyerId = 204;
constexpr int32_t kNotInCurrentUnit = 205;
constexpr int32_t kConsumerNotOnline = 206;
constexpr int32_t kConsumeMsgTimeout = 207;
constexpr int32_t kNoMessage = 208;
}  // namespace response

}  // namespace stele::remoting
