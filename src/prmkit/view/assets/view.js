// prmkit view: filters, sorts and pages the embedded solutions; draws only the current page.
// Every number shown (predicted first errors, summaries) was computed by prmkit in Python.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("prmkit-data").textContent);
  var rows = data.rows, prms = data.prms, questions = data.questions;
  var hasGold = rows.some(function (r) { return r.gold !== null; });
  var state = { wrong: false, disagree: false, alarm: false, missed: false, focus: -1, sort: "file", search: "",
                page: 0, size: 25 };
  var $ = function (id) { return document.getElementById(id); };

  rows.forEach(function (r, i) {
    r.index = i;
    r.mins = r.scores.map(function (column) {
      var m = null;
      column.forEach(function (s) { if (s !== null && (m === null || s < m)) m = s; });
      return m;
    });
    var preds = {};
    r.pred.forEach(function (p) { if (p !== null) preds[p] = true; });
    r.disagree = Object.keys(preds).length > 1;
    r.wrong = (r.gold !== null && r.gold >= 0) || r.correct === false;
    var known = r.mins.filter(function (m) { return m !== null; });
    r.spread = known.length > 1 ? Math.max.apply(null, known) - Math.min.apply(null, known) : 0;
  });

  // A false alarm: the PRM flags a step before the true first error (or flags a correct solution).
  function isAlarm(r, k) { var g = r.gold, e = r.pred[k]; return g !== null && e !== null && e >= 0 && (g === -1 || e < g); }
  // A missed error: the PRM flags nothing, or only a step after the true first error.
  function isMissed(r, k) { var g = r.gold, e = r.pred[k]; return g !== null && g >= 0 && e !== null && (e === -1 || e > g); }
  function forFocus(r, test) {
    if (state.focus >= 0) return test(r, state.focus);
    for (var k = 0; k < prms.length; k++) if (test(r, k)) return true;
    return false;
  }
  function minOf(r) {
    if (state.focus >= 0) return r.mins[state.focus];
    var known = r.mins.filter(function (m) { return m !== null; });
    return known.length ? Math.min.apply(null, known) : null;
  }

  var sorters = {
    file: function (a, b) { return a.index - b.index; },
    id: function (a, b) { return a.id < b.id ? -1 : a.id > b.id ? 1 : a.index - b.index; },
    min: function (a, b) {
      var x = minOf(a), y = minOf(b);
      if (x === y) return a.index - b.index;
      if (x === null) return 1;
      if (y === null) return -1;
      return x - y;
    },
    spread: function (a, b) { return b.spread - a.spread || a.index - b.index; },
    steps: function (a, b) { return b.steps.length - a.steps.length || a.index - b.index; }
  };

  function selected() {
    var needle = state.search.trim().toLowerCase();
    var out = rows.filter(function (r) {
      if (state.wrong && !r.wrong) return false;
      if (state.disagree && !r.disagree) return false;
      if (state.alarm && !forFocus(r, isAlarm)) return false;
      if (state.missed && !forFocus(r, isMissed)) return false;
      if (needle && r.id.toLowerCase().indexOf(needle) < 0) return false;
      return true;
    });
    return out.sort(sorters[state.sort]);
  }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function stepName(index) { return index === null ? "unknown" : index < 0 ? "none" : "step " + (index + 1); }
  function colour(s) { return s === null ? "#eee" : "hsl(" + Math.round(120 * s) + " 75% 80%)"; }
  function cell(v, digits) { return v === null || v === undefined ? "—" : typeof v === "number" ? v.toFixed(digits) : esc(v); }

  function card(r) {
    var html = ['<article class="sol" data-id="', esc(r.id), '"><header><span class="sid">', esc(r.id), "</span>"];
    var answer = r.answer === null ? "no answer" : "answer " + esc(r.answer);
    var cls = r.correct === true ? "ok" : r.correct === false ? "bad" : "";
    html.push('<span class="badge ', cls, '">', answer, r.correct === true ? " ✓" : r.correct === false ? " ✗" : "", "</span>");
    if (hasGold) html.push('<span class="badge ', r.gold !== null && r.gold >= 0 ? "bad" : "", '">true first error: ', stepName(r.gold), "</span>");
    prms.forEach(function (prm, k) {
      var verdict = isAlarm(r, k) ? ' <span class="badge alarm">false alarm</span>' : isMissed(r, k) ? ' <span class="badge miss">missed</span>' : "";
      var flag = r.pred[k] === null ? ": no score" : r.pred[k] < 0 ? " flags nothing" : " flags step " + (r.pred[k] + 1);
      html.push('<span class="badge">', esc(prm.name), flag, "</span>", verdict);
    });
    html.push('</header><details class="q"><summary>question</summary>', esc(questions[r.q]), "</details>");
    html.push('<table class="steps"><thead><tr><th class="n"></th><th>step</th>');
    prms.forEach(function (prm) { html.push('<th class="score">', esc(prm.name), "</th>"); });
    html.push("</tr></thead><tbody>");
    r.steps.forEach(function (text, i) {
      var rowCls = r.gold !== null && r.gold >= 0 ? (i === r.gold ? "gold" : i > r.gold ? "after" : "") : "";
      html.push('<tr class="', rowCls, '"><td class="n">', i + 1, '</td><td class="text">', esc(text));
      if (rowCls === "gold") html.push('<span class="tag">true first error</span>');
      html.push("</td>");
      r.scores.forEach(function (column, k) {
        var s = column[i];
        html.push('<td class="score', r.pred[k] === i ? " pred" : "", '" style="background:', colour(s), '"',
                  r.pred[k] === i ? ' title="predicted first error"' : "", ">", s === null ? "—" : s.toFixed(2), "</td>");
      });
      html.push("</tr>");
    });
    html.push("</tbody></table></article>");
    return html.join("");
  }

  var current = [];
  function render() {
    var pages = Math.max(1, Math.ceil(current.length / state.size));
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    var start = state.page * state.size, shown = current.slice(start, start + state.size);
    $("list").innerHTML = shown.length ? shown.map(card).join("") : '<p class="empty">No solution matches these filters.</p>';
    $("count").textContent = current.length + " of " + rows.length + " solutions";
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
  }
  function refresh() { current = selected(); state.page = 0; render(); }

  function summary() {
    var columns = [["threshold", 2], ["solutions", 0], ["flagged", 1], ["labelled", 0], ["error_acc", 1], ["correct_acc", 1],
                   ["f1", 1], ["first_error_acc", 1], ["auroc", 1]];
    var names = { threshold: "threshold", solutions: "solutions", flagged: "flagged %", labelled: "labelled",
                  error_acc: "error acc. %", correct_acc: "correct acc. %", f1: "F1", first_error_acc: "first-error acc. %",
                  auroc: "step AUROC" };
    var html = ['<table class="summary" id="summary"><thead><tr><th>PRM</th>'];
    columns.forEach(function (c) { html.push("<th>", names[c[0]], "</th>"); });
    html.push("</tr></thead><tbody>");
    prms.forEach(function (prm) {
      html.push("<tr><td>", esc(prm.name), prm.source ? ' <span class="note">' + esc(prm.source) + "</span>" : "", "</td>");
      columns.forEach(function (c) {
        var v = c[0] === "threshold" ? prm.threshold : prm.summary[c[0]];
        html.push("<td>", cell(v, c[1]), "</td>");
      });
      html.push("</tr>");
    });
    html.push("</tbody></table>");
    $("summary-slot").innerHTML = html.join("");
  }

  function bind(id, key, event, read) {
    $(id).addEventListener(event, function (e) { state[key] = read(e.target); refresh(); });
  }
  function setup() {
    var focus = $("focus");
    prms.forEach(function (prm, k) {
      var option = document.createElement("option");
      option.value = String(k); option.textContent = prm.name; focus.appendChild(option);
    });
    var checked = function (t) { return t.checked; };
    bind("f-wrong", "wrong", "change", checked);
    bind("f-disagree", "disagree", "change", checked);
    bind("f-alarm", "alarm", "change", checked);
    bind("f-missed", "missed", "change", checked);
    bind("focus", "focus", "change", function (t) { return Number(t.value); });
    bind("sort", "sort", "change", function (t) { return t.value; });
    bind("search", "search", "input", function (t) { return t.value; });
    $("size").addEventListener("change", function (e) { state.size = Number(e.target.value); render(); });
    $("prev").addEventListener("click", function () { state.page -= 1; render(); window.scrollTo(0, $("list").offsetTop - 60); });
    $("next").addEventListener("click", function () { state.page += 1; render(); window.scrollTo(0, $("list").offsetTop - 60); });
    var off = function (id, why) { var box = $(id); box.disabled = true; box.parentNode.className = "off"; box.parentNode.title = why; };
    if (prms.length < 2) off("f-disagree", "needs two or more PRMs");
    if (!hasGold) {
      off("f-alarm", "needs step labels (--labels)");
      off("f-missed", "needs step labels (--labels)");
    }
  }

  summary();
  setup();
  refresh();
  window.prmkitView = { rows: rows.length, readyMs: performance.now() };
  document.body.setAttribute("data-ready", "1");
})();
