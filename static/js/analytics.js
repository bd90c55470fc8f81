// Charts of the Publisher's analytics page, drawn from the JSON the page embeds.
(() => {
  const data = JSON.parse(document.getElementById("analytics-data").textContent);
  const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  new Chart(document.getElementById("frames-chart"), {
    type: "bar",
    data: {
      labels: data.series.map((p) => time(p.minute)),
      datasets: [
        { label: "in (client → backend)", data: data.series.map((p) => p.in), backgroundColor: "#6d4bd6", maxBarThickness: 28 },
        { label: "out (backend → client)", data: data.series.map((p) => p.out), backgroundColor: "#1f8fb3", maxBarThickness: 28 },
        { label: "throttled", data: data.series.map((p) => p.throttled), backgroundColor: "#d64545", maxBarThickness: 28 },
      ],
    },
    options: { animation: false, scales: { y: { beginAtZero: true } } },
  });
  new Chart(document.getElementById("apps-chart"), {
    type: "bar",
    data: { labels: data.topApplications.map((a) => a.name),
            datasets: [{ label: "frames", data: data.topApplications.map((a) => a.frames), backgroundColor: "#6d4bd6", maxBarThickness: 36 }] },
    options: { animation: false, indexAxis: "y", plugins: { legend: { display: false } } },
  });
  new Chart(document.getElementById("codes-chart"), {
    type: "bar",
    data: { labels: data.closeCodes.map((c) => String(c.code)),
            datasets: [{ label: "connections", data: data.closeCodes.map((c) => c.count), backgroundColor: "#1f8fb3", maxBarThickness: 48 }] },
    options: { animation: false, plugins: { legend: { display: false } } },
  });
  document.querySelectorAll(".since").forEach((cell) => {
    cell.textContent = new Date(Number(cell.dataset.epoch) * 1000).toLocaleString();
  });
})();
