// mqadmin: RocketMQ's admin tool (same subcommand names and flags). `mqadmin` alone lists the
// subcommands; `mqadmin <subcommand> --help` prints its options. Subcommands live in the
// *_commands.cc files beside this one, registered through command.h.
#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "mqadmin/command.h"

namespace stele::mqadmin {
namespace {

std::vector<Option> AllOptions(const Command& c) {
  std::vector<Option> all = {
      {'h', "help", nullptr, false, "print this help"},
      {'n', "namesrvAddr", "arg", false,
       "name server address list, e.g. '192.168.0.1:9876;192.168.0.2:9876' "
       "(default: $NAMESRV_ADDR, then 127.0.0.1:9876)"},
  };
  all.insert(all.end(), c.options.begin(), c.options.end());
  return all;
}

void PrintHelp(const Command& c) {
  const std::vector<Option> all = AllOptions(c);
  std::string synopsis;
  for (const Option& o : all) {
    std::string item = o.arg != nullptr ? fmt::format("-{} <{}>", o.short_name, o.arg)
                                        : fmt::format("-{}", o.short_name);
    synopsis += o.required ? fmt::format(" {}", item) : fmt::format(" [{}]", item);
  }
  std::printf("usage: mqadmin %s%s\n", c.name, synopsis.c_str());
  if (c.usage_note != nullptr) std::printf("%s\n", c.usage_note);
  for (const Option& o : all) {
    std::string left = fmt::format(" -{},--{}", o.short_name, o.long_name);
    if (o.arg != nullptr) left += fmt::format(" <{}>", o.arg);
    std::printf("%-34s %s\n", left.c_str(), o.help);
  }
}

void PrintCommandList() {
  std::printf("The most commonly used mqadmin commands are:\n");
  for (const auto& [name, c] : Registry()) std::printf("   %-28s %s\n", name.c_str(), c.summary);
  std::printf(
      "\nSee 'mqadmin help <command>' or 'mqadmin <command> --help' for more information "
      "on a specific command.\n");
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintCommandList();
    return 2;
  }
  std::string name = argv[1];
  if (name == "help" || name == "--help" || name == "-h") {
    if (argc < 3) {
      PrintCommandList();
      return 0;
    }
    auto it = Registry().find(argv[2]);
    if (it == Registry().end()) {
      std::fprintf(stderr, "mqadmin: unknown subcommand %s\n", argv[2]);
      return 2;
    }
    PrintHelp(it->second);
    return 0;
  }
  auto it = Registry().find(name);
  if (it == Registry().end()) {
    std::fprintf(stderr, "mqadmin: unknown subcommand %s (run mqadmin for the list)\n",
                 name.c_str());
    return 2;
  }
  const Command& cmd = it->second;
  const std::vector<Option> all = AllOptions(cmd);
  std::string shorts = "+";  // stop at the first non-option, as commons-cli would not guess
  std::vector<struct option> longs;
  for (const Option& o : all) {
    shorts += o.short_name;
    if (o.arg != nullptr) shorts += ':';
    longs.push_back(
        {o.long_name, o.arg != nullptr ? required_argument : no_argument, nullptr, o.short_name});
  }
  longs.push_back({nullptr, 0, nullptr, 0});
  Args a;
  optind = 2;
  opterr = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, shorts.c_str(), longs.data(), nullptr)) != -1) {
    if (opt == '?' || opt == ':') {
      std::fprintf(stderr, "see: mqadmin %s --help\n", cmd.name);
      return 2;
    }
    a.opt[static_cast<char>(opt)] = optarg != nullptr ? optarg : "true";
  }
  if (optind < argc) UsageError(fmt::format("unexpected argument '{}'", argv[optind]));
  if (a.Has('h')) {
    PrintHelp(cmd);
    return 0;
  }
  for (const Option& o : all) {
    if (o.required && !a.Has(o.short_name)) {
      UsageError(fmt::format("{}: -{} <{}> is required", cmd.name, o.short_name,
                             o.arg != nullptr ? o.arg : o.long_name));
    }
  }
  if (cmd.one_of != nullptr) {
    bool any = false;
    for (const char* c = cmd.one_of; *c != '\0'; ++c) any = any || a.Has(*c);
    if (!any) {
      UsageError(fmt::format("{}: {}", cmd.name,
                             cmd.usage_note != nullptr ? cmd.usage_note : "a required option"));
    }
  }
  a.ns = a.Get('n');
  if (a.ns.empty()) {
    const char* env = std::getenv("NAMESRV_ADDR");
    a.ns = env != nullptr && *env != '\0' ? env : "127.0.0.1:9876";
  }
  client::AdminClient admin({.namesrv_addr = a.ns, .timeout = kTimeout});
  OrFail(admin.Start());
  const int rc = cmd.run(admin, a);
  admin.Shutdown();
  return rc;
}

}  // namespace
}  // namespace stele::mqadmin

int main(int argc, char** argv) { return stele::mqadmin::Main(argc, argv); }
