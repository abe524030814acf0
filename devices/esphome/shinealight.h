// Shine a Light for ESPHome: one node's pods as LED colours. Pure C++17, no ESPHome or Arduino
// headers, so the tests compile and run it on the host against the agent's own frames
// (tests/devices/test_esphome.py). shinealight-strip.yaml includes it (`esphome: includes:`),
// feeds it every retained snapshot (nodes/<node>/state) and the watcher's status, and draws
// Strip::frame() in an addressable_lambda effect.
//
// The rules are the agent's (led_agent/rendering.py), for a subscriber that follows the
// snapshots only (the watcher republishes one within ~0.2 s of every change):
// - LED i shows pod i of the snapshot's order; missing or invalid colour: blue 0000ff;
//   colours are normalised as the contract says ("#A81399" -> a81399, "#FFF" -> ffffff).
// - A pod that vanished from the list flashes red three times in its place (on/off every
//   150 ms, 900 ms in all), then the pods after it move up.
// - pending: 25 %; unready: pulsing 25 % -> 100 % -> 25 % over 2 s in 8 steps; terminating:
//   blinking at 2 Hz; more pods than LEDs: the last LED alternates with white every 500 ms.
// - A watcher that is offline or degraded: the whole frame breathes 10 % -> 40 % over 4 s.
// - A snapshot older than the last one of the same epoch is ignored; a snapshot with a bad
//   pod (no name, unknown state) is dropped whole, as the agent drops it.
// Times are millis(); differences of uint32_t survive its wrap after 49 days. Levels are
// rounded half to even (std::nearbyint), as Python's round() does, so frames match exactly.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace shinealight {

constexpr uint32_t DEFAULT_COLOR = 0x0000ff, RED = 0xff0000, WHITE = 0xffffff, DARK = 0;
constexpr uint32_t FLASH_HALF_MS = 150, FLASH_MS = 6 * FLASH_HALF_MS;
constexpr uint32_t BLINK_PERIOD_MS = 500, OVERFLOW_PERIOD_MS = 1000;
constexpr uint32_t PULSE_PERIOD_MS = 2000, PULSE_STEPS = 8, STALE_PERIOD_MS = 4000, STALE_STEPS = 4;
constexpr double PENDING_LEVEL = 0.25, PULSE_FLOOR = 0.25, STALE_FLOOR = 0.1, STALE_TOP = 0.4;

enum class State : uint8_t { READY, PENDING, UNREADY, TERMINATING, INVALID };

struct Pod {
  std::string key;
  uint32_t rgb;
  State state;
};

inline bool is_hex(const char *text, size_t length) {
  for (size_t i = 0; i < length; i++) {
    if (!std::strchr("0123456789abcdefABCDEF", text[i]) || text[i] == '\0') return false;
  }
  return true;
}

// "#A81399" / "a81399" -> 0xa81399, "#FFF" -> 0xffffff; anything else -> blue.
inline uint32_t parse_color(const char *text) {
  if (text == nullptr) return DEFAULT_COLOR;
  while (*text == ' ' || *text == '\t') text++;
  if (*text == '#') text++;
  size_t length = std::strlen(text);
  while (length > 0 && (text[length - 1] == ' ' || text[length - 1] == '\t')) length--;
  if ((length != 3 && length != 6) || !is_hex(text, length)) return DEFAULT_COLOR;
  char digits[7] = {0};
  for (size_t i = 0; i < 6; i++) digits[i] = length == 6 ? text[i] : text[i / 2];
  return static_cast<uint32_t>(std::strtoul(digits, nullptr, 16));
}

inline State parse_state(const char *text) {
  if (text == nullptr || std::strcmp(text, "ready") == 0) return State::READY;
  if (std::strcmp(text, "pending") == 0) return State::PENDING;
  if (std::strcmp(text, "unready") == 0) return State::UNREADY;
  if (std::strcmp(text, "terminating") == 0) return State::TERMINATING;
  return State::INVALID;
}

inline uint32_t scale(uint32_t rgb, double level) {
  uint32_t out = 0;
  for (int shift = 16; shift >= 0; shift -= 8) {
    out |= static_cast<uint32_t>(std::nearbyint(((rgb >> shift) & 0xff) * level)) << shift;
  }
  return out;
}

// 0 -> 1 -> 0 over `period`, in `steps` levels (the agent's triangle wave).
inline double triangle(uint32_t now, uint32_t period, uint32_t steps) {
  double phase = static_cast<double>(now % period) / period;
  return std::nearbyint((1 - std::fabs(2 * phase - 1)) * (steps - 1)) / (steps - 1);
}

inline uint32_t pod_color(const Pod &pod, uint32_t now) {
  switch (pod.state) {
    case State::PENDING:
      return scale(pod.rgb, PENDING_LEVEL);
    case State::UNREADY:
      return scale(pod.rgb, PULSE_FLOOR + (1 - PULSE_FLOOR) * triangle(now, PULSE_PERIOD_MS, PULSE_STEPS));
    case State::TERMINATING:
      return now % BLINK_PERIOD_MS >= BLINK_PERIOD_MS / 2 ? DARK : pod.rgb;
    default:
      return pod.rgb;
  }
}

// One snapshot as it is read: pods in order; any bad pod makes the whole snapshot bad.
struct Snapshot {
  std::vector<Pod> pods;
  bool bad = false;

  void add(const char *uid, const char *ns, const char *name, const char *color, const char *state) {
    State parsed = parse_state(state);
    if (name == nullptr || *name == '\0' || parsed == State::INVALID) {
      bad = true;
      return;
    }
    std::string key = uid && *uid ? uid : ns && *ns ? std::string(ns) + "/" + name : std::string(name);
    for (const Pod &known : pods) {
      if (known.key == key) return;  // a garbage duplicate keeps its first place
    }
    pods.push_back({key, parse_color(color), parsed});
  }
};

struct Slot {
  bool ghost;
  uint32_t started;
};

// The node on the strip: the last snapshot's pods, and flashing ghosts where pods vanished.
// Invariant: the live slots are as many as the pods; the k-th live slot shows pod k.
class Strip {
 public:
  // Take a snapshot (false: ignored, as older than the last or bad).
  bool take(Snapshot snapshot, long seq, const std::string &epoch, uint32_t now) {
    if (snapshot.bad) return false;
    if (seq_ >= 0 && seq < seq_ && (epoch.empty() || epoch == epoch_)) return false;
    seq_ = seq;
    if (!epoch.empty()) epoch_ = epoch;  // a snapshot without epoch never changes it
    prune(now);
    std::vector<size_t> live;
    for (size_t i = 0; i < slots_.size(); i++) {
      if (!slots_[i].ghost) live.push_back(i);
    }
    for (size_t index = 0; index < pods_.size() && index < live.size(); index++) {
      if (!contains(snapshot.pods, pods_[index].key)) slots_[live[index]] = {true, now};
    }
    pods_ = std::move(snapshot.pods);
    size_t live_count = 0;
    for (const Slot &slot : slots_) live_count += slot.ghost ? 0 : 1;
    for (; live_count < pods_.size(); live_count++) slots_.push_back({false, 0});
    return true;
  }

  void set_stale(bool stale) { stale_ = stale; }
  bool stale() const { return stale_; }
  size_t size() const { return pods_.size(); }

  // Exactly `leds` colours 0xRRGGBB at `now`.
  std::vector<uint32_t> frame(uint32_t now, size_t leds) {
    prune(now);
    std::vector<uint32_t> colors;
    size_t shown = 0;
    for (const Slot &slot : slots_) {
      if (slot.ghost) {
        colors.push_back(((now - slot.started) / FLASH_HALF_MS) % 2 == 0 ? RED : DARK);
      } else if (shown < pods_.size()) {
        colors.push_back(pod_color(pods_[shown++], now));
      }
    }
    if (leds > 0 && colors.size() > leds && now % OVERFLOW_PERIOD_MS >= OVERFLOW_PERIOD_MS / 2) {
      colors[leds - 1] = WHITE;
    }
    colors.resize(leds, DARK);
    if (stale_) {
      double level = STALE_FLOOR + (STALE_TOP - STALE_FLOOR) * triangle(now, STALE_PERIOD_MS, STALE_STEPS);
      for (uint32_t &color : colors) color = scale(color, level);
    }
    return colors;
  }

 private:
  static bool contains(const std::vector<Pod> &pods, const std::string &key) {
    for (const Pod &pod : pods) {
      if (pod.key == key) return true;
    }
    return false;
  }

  void prune(uint32_t now) {
    std::vector<Slot> kept;
    for (const Slot &slot : slots_) {
      if (!slot.ghost || now - slot.started < FLASH_MS) kept.push_back(slot);
    }
    slots_ = std::move(kept);
  }

  std::vector<Pod> pods_;
  std::vector<Slot> slots_;
  long seq_ = -1;
  std::string epoch_;
  bool stale_ = false;
};

}  // namespace shinealight
