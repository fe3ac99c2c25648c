// The compliance report's page: builds every section from the JSON data block, with
// textContent only (values from records are never parsed as HTML), and draws the charts.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const number = new Intl.NumberFormat("zh-CN");
  const VERDICTS = {
    intact: "完好 INTACT",
    tampered: "被篡改 TAMPERED",
    incomplete: "不完整 INCOMPLETE",
    reopened: "曾被删除或替换 REOPENED",
    unverified: "签名未验证 UNVERIFIED",
  };
  const ESCALATIONS = { chief: "检察长 Chief", committee: "检察委员会 Committee" };
  const LIMIT = 15;
  const COLORS = ["#1f6feb", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457",
    "#5d4037", "#9e9d24", "#455a64"];

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function byId(id) { return document.getElementById(id); }
  function label(zh, en) {
    const node = el("span", zh + " ");
    node.appendChild(el("span", en, "en"));
    return node;
  }
  // A cell value: a number, a string, or {t: text, sub: second line, s: sort key}.
  function cellText(value) {
    if (typeof value === "number") return number.format(value);
    if (value && typeof value === "object") return value.t;
    return value === "" ? "—" : String(value);
  }
  function sortKey(value) {
    if (value && typeof value === "object") return value.s !== undefined ? value.s : value.t;
    return value;
  }
  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), "zh-CN");
  }

  // A table sortable by clicking a header (again: the other way).
  function table(id, columns, rows, className) {
    const holder = byId(id);
    holder.textContent = "";
    if (!rows.length) {
      holder.appendChild(el("p", "无 None", "empty"));
      return;
    }
    const tableNode = el("table", null, className);
    const head = tableNode.createTHead().insertRow();
    columns.forEach(function (column, index) {
      const th = el("th", null, column.num ? "num" : "");
      th.appendChild(label(column.zh, column.en));
      th.addEventListener("click", function () { sortBy(tableNode, index); });
      head.appendChild(th);
    });
    const body = tableNode.createTBody();
    rows.forEach(function (row) {
      const tr = body.insertRow();
      tr.sortKeys = row.map(sortKey);
      row.forEach(function (value, index) {
        const td = el("td", cellText(value), columns[index].num ? "num" : "");
        if (value && typeof value === "object" && value.sub) td.appendChild(el("span", value.sub, "sub"));
        tr.appendChild(td);
      });
    });
    holder.appendChild(tableNode);
    if (rows.length > LIMIT) {
      const more = el("button", "显示全部 Show all " + number.format(rows.length), "more");
      more.addEventListener("click", function () {
        tableNode.dataset.all = "true";
        limit(tableNode);
        more.remove();
      });
      holder.appendChild(more);
    }
    limit(tableNode);
  }
  // Long tables show their first LIMIT rows (in the current order) until asked for all.
  function limit(tableNode) {
    const all = tableNode.dataset.all === "true";
    Array.from(tableNode.tBodies[0].rows).forEach(function (row, index) {
      row.hidden = !all && index >= LIMIT;
    });
  }
  function sortBy(tableNode, index) {
    const th = tableNode.tHead.rows[0].cells[index];
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.from(tableNode.tHead.rows[0].cells).forEach(function (cell) { cell.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const body = tableNode.tBodies[0];
    const rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      const order = compare(a.sortKeys[index], b.sortKeys[index]);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    limit(tableNode);
  }

  function card(holder, zh, en, value, bad) {
    const node = el("div", null, "card" + (bad ? " bad" : ""));
    node.appendChild(el("div", zh + " " + en, "label"));
    node.appendChild(el("div", typeof value === "number" ? number.format(value) : value, "value"));
    node.dataset.key = en.toLowerCase().replace(/ /g, "_");
    node.dataset.value = String(value);
    holder.appendChild(node);
  }

  // A record's timestamp, to the second: 2026-11-27T17:42:56.383192Z -> 2026-11-27 17:42:56 UTC.
  function moment(stamp) { return stamp.slice(0, 19).replace("T", " ") + " UTC"; }

  function header() {
    const about = data.about;
    const dl = byId("about");
    const period = about.since || about.until
      ? (about.since || "…") + " — " + (about.until || "…") + "（不含 exclusive）"
      : "全部 All" + (data.totals.first ? "：" + moment(data.totals.first) + " — " + moment(data.totals.last) : "");
    [["日志 Log", about.source], ["期间 Period", period],
     ["筛选 Filters", about.filters.length ? about.filters.join(" ") : "无 None"],
     ["生成时间 Generated", about.generated], ["版本 Version", "Quanze " + about.version]]
      .forEach(function (pair) {
        dl.appendChild(el("dt", pair[0]));
        dl.appendChild(el("dd", pair[1]));
      });
    byId("footer").textContent = "由 Quanze " + about.version + " 生成 · Generated by Quanze " +
      about.version + " · " + about.generated;
  }

  function verification() {
    const v = data.verification;
    const box = byId("verdict");
    box.classList.add(v.verdict === "intact" ? "intact" : "alarm");
    box.dataset.verdict = v.verdict;
    byId("verdict-word").textContent = VERDICTS[v.verdict] || v.verdict;
    byId("verdict-summary").textContent = v.summary;
    if (v.problems.length) {
      table("problems", [{ zh: "类型", en: "Kind" }, { zh: "位置", en: "Where" },
        { zh: "序号", en: "Seq", num: true }, { zh: "说明", en: "What" }],
        v.problems.map(function (p) { return [p.kind, p.location, p.seq === null ? "" : p.seq, p.message]; }));
      if (v.unlisted) byId("problems").appendChild(el("p", "另有 " + number.format(v.unlisted) + " 项未列出 · " + number.format(v.unlisted) + " more not listed"));
    } else {
      byId("problems-block").hidden = true;
    }
    if (v.notes.length) v.notes.forEach(function (note) { byId("notes").appendChild(el("li", note)); });
    else byId("notes-block").hidden = true;
    if (v.anchors.length) v.anchors.forEach(function (anchor) { byId("anchors").appendChild(el("li", anchor)); });
    else byId("anchors").appendChild(el("li", "无 None", "empty"));
    table("streams", [{ zh: "流", en: "Stream" }, { zh: "记录", en: "Records", num: true },
      { zh: "序号", en: "Seqs" }, { zh: "文件", en: "Files", num: true },
      { zh: "检查点", en: "Checkpoints", num: true }, { zh: "最后检查点", en: "Last checkpoint" },
      { zh: "问题", en: "Problems", num: true }], v.streams);
  }

  function totals() {
    const t = data.totals;
    const holder = byId("totals");
    card(holder, "记录", "Records", t.records);
    card(holder, "答复", "Answers", t.answers);
    card(holder, "允许", "Allowed", t.allowed);
    card(holder, "拒绝", "Denied", t.denied);
    card(holder, "上报", "Escalated", t.escalated);
    if (t.list_calls) card(holder, "列表调用", "List calls", t.list_calls);
  }

  function losses() {
    const l = data.losses;
    const holder = byId("losses");
    card(holder, "丢失", "Lost", l.records_lost, l.records_lost > 0);
    card(holder, "拒写", "Refused", l.records_refused, l.records_refused > 0);
    card(holder, "随目录丢失", "Lost with a directory", l.lost_with_directory, l.lost_with_directory > 0);
    card(holder, "写入进程运行次数", "Writer runs", l.writer_runs);
  }

  const charts = {};
  function chart(id, config) {
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false },
      config.options || {});
    charts[id] = new Chart(byId(id), config);
  }
  function bar(id, rows, color, name) {
    chart(id, {
      type: "bar",
      data: {
        labels: rows.map(function (r) { return cellText(r[0]); }),
        datasets: [{ label: name, data: rows.map(function (r) { return r[1]; }), backgroundColor: color }],
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } },
        scales: { y: { ticks: { autoSkip: false } } } },
    });
  }

  function drawCharts() {
    const timeline = data.timeline;
    byId("timeline-unit").textContent = timeline.unit === "hour" ? "（每小时 per hour, UTC）" : "（每日 per day, UTC）";
    chart("chart-timeline", {
      type: "bar",
      data: {
        labels: timeline.labels,
        datasets: [
          { label: "允许 Allowed", data: timeline.allowed, backgroundColor: "#2e7d32" },
          { label: "拒绝 Denied", data: timeline.denied, backgroundColor: "#c62828" },
        ],
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    });
    bar("chart-articles", data.denied_by_article.slice(0, 15), "#c62828", "拒绝 Denied");
    bar("chart-roles", data.denied_by_role.slice(0, 15), "#ef6c00", "拒绝 Denied");
    chart("chart-escalations", {
      type: "doughnut",
      data: {
        labels: data.escalations.map(function (r) { return ESCALATIONS[r[0]] || r[0]; }),
        datasets: [{ data: data.escalations.map(function (r) { return r[1]; }), backgroundColor: COLORS }],
      },
    });
  }

  function tables() {
    const count = { zh: "次数", en: "Count", num: true };
    table("denied-articles", [{ zh: "条款", en: "Article" }, count], data.denied_by_article);
    table("denied-roles", [{ zh: "角色", en: "Role" }, count], data.denied_by_role);
    table("escalations", [{ zh: "上报至", en: "Escalated to" }, count],
      data.escalations.map(function (r) { return [ESCALATIONS[r[0]] || r[0], r[1]]; }));
    table("escalated-actions", [{ zh: "事项", en: "Action" }, count], data.escalated_actions);
    table("delegated", [{ zh: "受托人", en: "Delegate" }, { zh: "身份", en: "Role" },
      { zh: "事项", en: "Action" }, { zh: "决定", en: "Decision" }, { zh: "理由代码", en: "Reason" },
      { zh: "依据", en: "Grounds" }, count], data.delegated);
    table("accountable", [{ zh: "责任人", en: "Subject" }, { zh: "身份", en: "Capacity" },
      { zh: "责任", en: "Responsibility" }, { zh: "条款", en: "Article" }, count], data.accountable);
    ["delegated", "accountable"].forEach(function (id) {
      const more = data.unlisted[id];
      if (more) {
        byId(id).appendChild(el("p", "另有 " + number.format(more) + " 行未列出（以上为最常见的）· " +
          number.format(more) + " less frequent rows not listed: `quanze logs query` finds them", "explain"));
      }
    });
    table("top-subjects", [{ zh: "人员", en: "Subject" }, count], data.top_denied_subjects);
    table("top-cases", [{ zh: "案件", en: "Case" }, count], data.top_denied_cases);
  }

  header();
  verification();
  totals();
  losses();
  tables();
  drawCharts();
  window.quanzeCharts = charts;
  document.body.dataset.ready = "true";
})();
