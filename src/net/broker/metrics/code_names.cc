#include "net/broker/metrics/code_names.h"

#include <string_view>
#include <utility>

#include "fmt/format.h"

namespace stele::broker::metrics {
namespace {

using Entry = std::pair<int32_t, std::string_view>;

// Facts from RocketMQ's RequestCode / ResponseCode (names lower-cased); the codes Stele serves
// or answers with, and the admin codes tools send.
constexpr Entry kRequests[] = {
    {10, "send_message"},
    {11, "pull_message"},
    {12, "query_message"},
    {14, "query_consumer_offset"},
    {15, "update_consumer_offset"},
    {17, "update_and_create_topic"},
    {21, "get_all_topic_config"},
    {25, "update_broker_config"},
    {26, "get_broker_config"},
    {28, "get_broker_runtime_info"},
    {29, "search_offset_by_timestamp"},
    {30, "get_max_offset"},
    {31, "get_min_offset"},
    {32, "get_earliest_msg_storetime"},
    {33, "view_message_by_id"},
    {34, "heart_beat"},
    {35, "unregister_client"},
    {36, "consumer_send_msg_back"},
    {37, "end_transaction"},
    {38, "get_consumer_list_by_group"},
    {39, "check_transaction_state"},
    {40, "notify_consumer_ids_changed"},
    {41, "lock_batch_mq"},
    {42, "unlock_batch_mq"},
    {43, "get_all_consumer_offset"},
    {45, "get_all_delay_offset"},
    {46, "check_client_config"},
    {200, "update_and_create_subscriptiongroup"},
    {201, "get_all_subscriptiongroup_config"},
    {202, "get_topic_stats_info"},
    {203, "get_consumer_connection_list"},
    {204, "get_producer_connection_list"},
    {205, "wipe_write_perm_of_broker"},
    {207, "delete_subscriptiongroup"},
    {208, "get_consume_stats"},
    {215, "delete_topic_in_broker"},
    {222, "reset_consumer_offset_by_timestamp"},
    {300, "query_topic_consume_by_who"},
    {307, "get_consumer_running_info"},
    {309, "consume_message_directly"},
    {310, "send_message_v2"},
    {320, "send_batch_message"},
    {322, "query_data_version"},
    {904, "broker_heartbeat"},
};

constexpr Entry kResponses[] = {
    {0, "success"},
    {1, "system_error"},
    {2, "system_busy"},
    {3, "request_code_not_supported"},
    {4, "transaction_failed"},
    {10, "flush_disk_timeout"},
    {11, "slave_not_available"},
    {12, "flush_slave_timeout"},
    {13, "message_illegal"},
    {14, "service_not_available"},
    {15, "version_not_supported"},
    {16, "no_permission"},
    {17, "topic_not_exist"},
    {18, "topic_exist_already"},
    {19, "pull_not_found"},
    {20, "pull_retry_immediately"},
    {21, "pull_offset_moved"},
    {22, "query_not_found"},
    {23, "subscription_parse_failed"},
    {24, "subscription_not_exist"},
    {25, "subscription_not_latest"},
    {26, "subscription_group_not_exist"},
    {27, "filter_data_not_exist"},
    {28, "filter_data_not_latest"},
    {200, "transaction_should_commit"},
    {201, "transaction_should_rollback"},
    {202, "transaction_state_unknow"},
    {203, "transaction_state_group_wrong"},
    {206, "consumer_not_online"},
    {207, "consume_msg_timeout"},
    {208, "no_message"},
};

template <size_t N>
std::string Lookup(const Entry (&table)[N], int32_t code) {
  for (const Entry& e : table) {
    if (e.first == code) return std::string(e.second);
  }
  return fmt::format("{}", code);
}

}  // namespace

std::string RequestCodeName(int32_t code) { return Lookup(kRequests, code); }
std::string ResponseCodeName(int32_t code) { return Lookup(kResponses, code); }

}  // namespace stele::broker::metrics
