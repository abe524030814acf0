// Drives devices/esphome/shinealight.h on the host for tests/devices/test_esphome.py.
// Reads tab-separated commands on stdin, one per line, answers on stdout:
//   snapshot NOW SEQ EPOCH     then   pod UID NAMESPACE NAME COLOR STATE   ...   end
//                              ("-" for an absent field)          -> "taken" | "ignored"
//   status STALE (0|1)
//   frame NOW LEDS                                                -> LEDS colours rrggbb
//   color TEXT                                                    -> rrggbb
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "shinealight.h"

static std::vector<std::string> fields(const std::string &line) {
  std::vector<std::string> out;
  std::stringstream stream(line);
  std::string field;
  while (std::getline(stream, field, '\t')) out.push_back(field);
  return out;
}

static const char *given(const std::string &field) { return field == "-" ? nullptr : field.c_str(); }

int main() {
  shinealight::Strip strip;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<std::string> f = fields(line);
    if (f.empty()) continue;
    if (f[0] == "snapshot") {
      shinealight::Snapshot snapshot;
      std::string pod;
      while (std::getline(std::cin, pod) && pod != "end") {
        std::vector<std::string> p = fields(pod);
        snapshot.add(given(p[1]), given(p[2]), given(p[3]), given(p[4]), given(p[5]));
      }
      bool taken = strip.take(snapshot, std::stol(f[2]), f[3] == "-" ? "" : f[3], std::stoul(f[1]));
      std::cout << (taken ? "taken" : "ignored") << "\n";
    } else if (f[0] == "status") {
      strip.set_stale(f[1] == "1");
    } else if (f[0] == "frame") {
      std::vector<uint32_t> colors = strip.frame(std::stoul(f[1]), std::stoul(f[2]));
      for (size_t i = 0; i < colors.size(); i++) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "%06x", colors[i]);
        std::cout << (i ? " " : "") << hex;
      }
      std::cout << "\n";
    } else if (f[0] == "color") {
      char hex[8];
      std::snprintf(hex, sizeof hex, "%06x", shinealight::parse_color(given(f.size() > 1 ? f[1] : "-")));
      std::cout << hex << "\n";
    }
  }
  return 0;
}
