// Command-line flags shared by the client examples:
//   -n NAMESRV  name server list, "host:port;host:port" (default 127.0.0.1:9876)
//   -t TOPIC    topic (default per example)
//   -c COUNT    messages to send or to wait for (default 10)
//   -s SECONDS  consumers: give up after this long (default 30)
//   -g GROUP    producer or consumer group (default per example)
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace example {

struct Args {
  std::string namesrv = "127.0.0.1:9876";
  std::string topic;
  std::string group;
  int count = 10;
  std::chrono::seconds timeout{30};
};

// Parses argv over `defaults`; prints usage and exits on an unknown flag.
inline Args Parse(int argc, char** argv, Args defaults) {
  Args a = std::move(defaults);
  int opt;
  while ((opt = getopt(argc, argv, "n:t:c:s:g:h")) != -1) {
    switch (opt) {
      case 'n':
        a.namesrv = optarg;
        break;
      case 't':
        a.topic = optarg;
        break;
      case 'g':
        a.group = optarg;
        break;
      case 'c':
        a.count = std::atoi(optarg);
        break;
      case 's':
        a.timeout = std::chrono::seconds(std::atoi(optarg));
        break;
      default:
        std::fprintf(stderr,
                     "usage: %s [-n namesrv] [-t topic] [-c count] [-s seconds] [-g group]\n",
                     argv[0]);
        std::exit(opt == 'h' ? 0 : 2);
    }
  }
  return a;
}

}  // namespace example
