// The Try Out live console: connect to a topic through the gateway from the browser, send
// text frames, see each frame with its time and direction, and the close code and reason.
// Browsers cannot set an Authorization header on a WebSocket, and a token in the URL lands in
// history and logs. So the token buys a one-time connect ticket from the gateway (POST
// /tickets, the token in a header) and only the ticket, valid 30 s and once, goes in the URL.
(function () {
  const topics = JSON.parse(document.getElementById("console-topics").textContent);
  const $ = (id) => document.getElementById(id);
  const select = $("console-topic"), tokenInput = $("console-token"), params = $("console-params");
  const log = $("console-log"), message = $("console-message"), state = $("console-state");
  let socket = null;

  function topic() { return topics[Number(select.value)]; }

  function url() {
    const t = topic();
    let u = t.url;
    for (const p of t.params) {
      const input = $("console-param-" + p);
      u = u.replace("{" + p + "}", encodeURIComponent(input && input.value ? input.value : "{" + p + "}"));
    }
    return u;
  }

  // The gateway's plain HTTP on the same host and port, and the path a ticket is asked for.
  function ticketRequest(wsUrl) {
    const u = new URL(wsUrl);
    return { endpoint: (u.protocol === "wss:" ? "https://" : "http://") + u.host + "/tickets", path: u.pathname };
  }

  async function ticketFor(wsUrl, token) {
    const request = ticketRequest(wsUrl);
    const response = await fetch(request.endpoint, {
      method: "POST",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ path: request.path }),
      credentials: "omit",
      cache: "no-store",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(response.status + " " + (body.code || "") + " " + (body.error_description || "no ticket"));
    return body.ticket;
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
    const shown = url();
    $("console-url").textContent = shown + (t.secured ? "?ticket=…" : "");
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
      const body =
        "ws.onopen = () => ws.send(" + JSON.stringify(t.example || "hello") + ");\n" +
        "ws.onmessage = (event) => console.log(\"received\", event.data);\n" +
        "ws.onclose = (event) => console.log(\"closed\", event.code, event.reason);";
      if (t.secured) {
        const request = ticketRequest(shown);
        js.textContent =
          "// The token stays out of the URL: it buys a one-time ticket (30 s) for this API.\n" +
          "const response = await fetch(" + JSON.stringify(request.endpoint) + ", {\n" +
          "  method: \"POST\",\n" +
          "  headers: { Authorization: \"Bearer \" + TOKEN, \"Content-Type\": \"application/json\" },\n" +
          "  body: JSON.stringify({ path: " + JSON.stringify(request.path) + " }),\n" +
          "});\n" +
          "const { ticket } = await response.json();\n" +
          "const ws = new WebSocket(" + JSON.stringify(shown + (shown.includes("?") ? "&" : "?") + "ticket=") + " + encodeURIComponent(ticket));\n" +
          body;
      } else {
        js.textContent = "const ws = new WebSocket(" + JSON.stringify(shown) + ");\n" + body;
      }
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

  $("console-connect").addEventListener("click", async () => {
    const secured = topic().secured, token = tokenInput.value.trim();
    if (secured && !token) {
      entry("info", "Get a test key first (GET TEST KEY in Try Out) or paste a token.");
      return;
    }
    let target = url();
    setState("connecting", true);
    if (secured) {
      try {
        const ticket = await ticketFor(target, token);
        target += (target.includes("?") ? "&" : "?") + "ticket=" + encodeURIComponent(ticket);
      } catch (error) {
        entry("close", "no connect ticket: " + error.message);
        setState("closed", false);
        return;
      }
    }
    entry("info", "connecting to " + target.replace(/ticket=[^&]+/, "ticket=…"));
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
