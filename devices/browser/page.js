// Shine a Light in a browser: MQTT over websockets (mqtt.js) in, LEDs in the page out.
//
// The page needs no server of ours: it talks to the broker's websockets listener itself
// (Mosquitto: `listener 9001` + `protocol websockets`, see broker/mosquitto.conf). All rules
// are in lights.js; this file connects, subscribes and draws.
//
// Settings are query parameters: ?broker=ws://host:9001&prefix=shinealight/&nodes=node-1,node-2
// &leds=8&username=viewer&password=… (defaults: ws://<this host>:9001, every node, 8 LEDs).
// `record` keeps what happened in window.shineALight.record, for tests.
(function () {
  "use strict";
  const { Board } = window.ShineALight;
  const FRAME_MS = 20; // at most 50 frames a second, as the agent
  const params = new URLSearchParams(window.location.search);

  function defaultBroker() {
    const host = window.location.hostname || "localhost";
    return (window.location.protocol === "https:" ? "wss://" : "ws://") + host + ":9001";
  }

  const settings = {
    broker: params.get("broker") || defaultBroker(),
    prefix: params.get("prefix") || "",
    nodes: (params.get("nodes") || "").split(",").map((n) => n.trim()).filter(Boolean),
    leds: Math.max(1, Number.parseInt(params.get("leds") || "8", 10) || 8),
    username: params.get("username") || undefined,
    password: params.get("password") || undefined,
    record: params.has("record"),
  };
  const board = new Board(settings.prefix);
  const record = [];
  const shown = new Map(); // node -> the frame in the page, as a string
  const page = (window.shineALight = { settings, board, record, shown, connected: false });

  // State before pods: the retained snapshot arrives while the first SUBSCRIBE is handled.
  function topics() {
    const nodes = settings.nodes.length ? settings.nodes : ["+"];
    return ["state", "status", "pods"].flatMap((kind) => nodes.map((n) => topicOf(n, kind)));
  }

  // A node name's dots are written '_' in topics (docs/protocol.md, "Node names in topics").
  function topicOf(node, kind) {
    return settings.prefix + "nodes/" + node.replace(/\./g, "_") + "/" + kind;
  }

  function say(text) {
    document.getElementById("status").textContent = text;
  }

  function connect() {
    if (typeof window.mqtt === "undefined") {
      say("mqtt.js did not load: put mqtt.min.js next to this page (see docs/devices.md)");
      return;
    }
    const client = window.mqtt.connect(settings.broker, {
      clientId: "browser-" + Math.random().toString(16).slice(2, 10),
      username: settings.username,
      password: settings.password,
      clean: true, // the retained snapshots bring a returning page up to date
      protocolVersion: 4,
      reconnectPeriod: 2000,
      connectTimeout: 10000,
    });
    page.client = client;
    client.on("connect", () => {
      page.connected = true;
      say("connected");
      for (const topic of topics()) client.subscribe(topic, { qos: 1 });
    });
    client.on("reconnect", () => say("reconnecting to " + settings.broker + " …"));
    client.on("offline", () => {
      page.connected = false;
      say("offline: " + settings.broker + " does not answer; retrying");
    });
    client.on("error", (error) => say("error: " + error.message));
    client.on("message", (topic, payload) => {
      const now = performance.now();
      if (settings.record) record.push(["message", now, topic, Array.from(payload)]);
      const resync = board.take(topic, payload, now);
      if (resync !== null) client.subscribe(topicOf(resync, "state"), { qos: 1 });
    });
  }

  function row(node) {
    let element = document.querySelector('.node[data-node="' + CSS.escape(node) + '"]');
    if (element) return element;
    element = document.createElement("section");
    element.className = "node";
    element.dataset.node = node;
    element.innerHTML = '<h2 class="name"></h2><div class="leds"></div>';
    element.querySelector(".name").textContent = node;
    const leds = element.querySelector(".leds");
    for (let i = 0; i < settings.leds; i++) leds.appendChild(document.createElement("i")).className = "led";
    const rows = [...document.querySelectorAll(".node")];
    const after = rows.find((other) => other.dataset.node > node);
    document.getElementById("nodes").insertBefore(element, after || null);
    return element;
  }

  function draw() {
    const now = performance.now();
    const frames = board.frames(now, settings.leds);
    for (const [node, frame] of Object.entries(frames)) {
      const text = frame.join(" ");
      if (shown.get(node) === text) continue;
      shown.set(node, text);
      if (settings.record) record.push(["frame", now, node, frame]);
      const leds = row(node).querySelectorAll(".led");
      frame.forEach((color, i) => {
        leds[i].dataset.color = color;
        leds[i].style.backgroundColor = leds[i].style.color = "#" + color;
        leds[i].classList.toggle("dark", color === "000000");
      });
      row(node).classList.toggle("stale", board.nodes.get(node).stale);
    }
    for (const node of [...shown.keys()]) {
      if (!(node in frames)) {
        shown.delete(node);
        row(node).remove();
        if (settings.record) record.push(["gone", now, node]);
      }
    }
    if (settings.record) record.push(["tick", now]); // after this turn's frames
    const bad = Object.entries(board.bad).map(([kind, count]) => kind + " " + count).join(", ");
    document.getElementById("bad").textContent = bad ? "ignored: " + bad : "";
  }

  document.getElementById("broker").textContent = settings.broker;
  connect();
  window.setInterval(draw, FRAME_MS);
})();
