// The Try Out live console: connect to a topic through the gateway from the browser, send
// text frames, see each frame with its time and direction, and the close code and reason.
// Browsers cannot set an Authorization header on a WebSocket, so the token travels as
// ?access_token= (the gateway accepts both and never passes it to the backend).
(function () {
  const topics = JSON.parse(document.getElementById("console-topics").textContent);
  const $ = (id) => document.getElementById(id);
  const select = $("console-topic"), tokenInput = $("console-token"), params = $("console-params");
  const log = $("console-log"), message = $("console-message"), state = $("console-state");
  let socket = null;

  function topic() { return topics[Number(select.value)]; }

  function url(withToken) {
    const t = topic();
    let u = t.url;
    for (const p of t.params) {
      const input = $("console-param-" + p);
      u = u.replace("{" + p + "}", encodeURIComponent(input && input.value ? input.value : "{" + p + "}"));
    }
    const token = tokenInput.value.trim();
    if (t.secured && withToken) u += (u.includes("?") ? "&" : "?") + "access_token=" + (token || "$TOKEN");
    return u;
  }

  function renderParams() {
    params.innerHTML = "";
    for (const p of topic().params) {
      const label = document.createElement("label");
      label.textContent = "Parameter " + p + " ";
      const input = document.createElement("input");
      input.id = "console-param-" + p;
      input.value = "demo";
      input.addEventListener("input", refresh);
      label.appendChild(input);
      params.appendChild(label);
    }
  }

  function refresh() {
    const t = topic();
    const shown = url(false);
    $("console-url").textContent = shown + (t.secured ? "?access_token=…" : "");
    const py = $("snippet-python"), js = $("snippet-js");
    if (py) {
      const header = t.secured ? ', additional_headers={"Authorization": f"Bearer {os.environ[\'TOKEN\']}"}' : "";
      py.textContent =
        "import asyncio, os\nimport websockets\n\n\nasync def main():\n" +
        "    async with websockets.connect(" + JSON.stringify(shown) + header + ") as ws:\n" +
        "        await ws.send(" + JSON.stringify(t.example || "hello") + ")\n" +
        "        print(await ws.recv())\n\n\nasyncio.run(main())";
    }
    if (js) {
      const target = t.secured ? JSON.stringify(shown + (shown.includes("?") ? "&" : "?") + "access_token=") + " + TOKEN" : JSON.stringify(shown);
      js.textContent =
        "const ws = new WebSocket(" + target + ");\n" +
        "ws.onopen = () => ws.send(" + JSON.stringify(t.example || "hello") + ");\n" +
        "ws.onmessage = (event) => console.log(\"received\", event.data);\n" +
        "ws.onclose = (event) => console.log(\"closed\", event.code, event.reason);";
    }
  }

  function entry(kind, text) {
    const li = document.createElement("li");
    li.className = "console-" + kind;
    const time = new Date().toISOString().slice(11, 23);
    const arrow = { out: "→", in: "←", info: "•", close: "×" }[kind];
    li.innerHTML = "<time></time> <span class=\"dir\"></span> <code></code>";
    li.querySelector("time").textContent = time;
    li.querySelector(".dir").textContent = arrow;
    li.querySelector("code").textContent = text;
    log.appendChild(li);
    li.scrollIntoView({ block: "nearest" });
  }

  function setState(text, open) {
    state.textContent = text;
    $("console-connect").disabled = open;
    $("console-disconnect").disabled = !open;
    $("console-send").disabled = !open;
  }

  $("console-connect").addEventListener("click", () => {
    if (topic().secured && !tokenInput.value.trim()) {
      entry("info", "Get a test key first (GET TEST KEY in Try Out) or paste a token.");
      return;
    }
    const target = url(true);
    entry("info", "connecting to " + target.replace(/access_token=[^&]+/, "access_token=…"));
    setState("connecting", true);
    socket = new WebSocket(target);
    socket.onopen = () => { setState("open", true); entry("info", "connected"); };
    socket.onmessage = (event) => entry("in", typeof event.data === "string" ? event.data : "[binary frame]");
    socket.onclose = (event) => {
      entry("close", "closed " + event.code + (event.reason ? " " + event.reason : "") + (event.code === 1006 ? " (refused or dropped: check the token, the subscription and the topic)" : ""));
      setState("closed " + event.code, false);
      socket = null;
    };
  });
  $("console-disconnect").addEventListener("click", () => socket && socket.close(1000, "closed from the console"));
  $("console-send").addEventListener("click", () => {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(message.value);
    entry("out", message.value);
  });
  $("console-clear").addEventListener("click", () => { log.innerHTML = ""; });
  select.addEventListener("change", () => { renderParams(); message.value = topic().example; refresh(); });
  tokenInput.addEventListener("input", refresh);
  renderParams();
  message.value = topic().example;
  refresh();
})();
