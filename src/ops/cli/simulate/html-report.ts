import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { faultsText, type SimulateResults } from './simulate-results.js';

/**
 * The self-contained HTML report of `galaxy simulate`: uPlot's script and stylesheet
 * and the results are inlined, so the one file opens anywhere, offline, and can be
 * attached to a ticket. Per run: convergence over time, the detection-time
 * distribution, false suspicions and deaths, and bytes per node per second.
 */
export function htmlReport(results: SimulateResults): string {
  const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot'));
  const uplotJs = readFileSync(join(uplotDir, 'uPlot.iife.min.js'), 'utf8');
  const uplotCss = readFileSync(join(uplotDir, 'uPlot.min.css'), 'utf8');
  const rows = results.runs.map((r) => {
    const res = r.result;
    const cells = [
      r.label,
      String(r.spec.nodes),
      `${r.spec.simulatedMs / 1000}`,
      faultsText(r.spec),
      res === null ? '-' : res.finalConvergence.converged ? 'yes' : 'no',
      res === null ? '-' : String(res.totals.falseSuspicions),
      res === null ? '-' : String(res.totals.falseDeaths),
      res === null ? '-' : String(res.totals.bytesPerNodePerSecond),
      r.status,
    ];
    return `<tr class="${r.status}">${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  const sections = results.runs.map((r, i) => {
    const reasons = r.result?.verdict.reasons ?? (r.error === null ? [] : [r.error]);
    const notes = r.result?.verdict.notes ?? [];
    const verdict = [...reasons.map((t) => `<li class="reason">${escapeHtml(t)}</li>`), ...notes.map((t) => `<li>${escapeHtml(t)}</li>`)].join('');
    return `<section id="run-${i}"><h2>${escapeHtml(r.label)} <small>${escapeHtml(faultsText(r.spec))}</small></h2>
<p class="status ${r.status}">${r.status}</p>${verdict === '' ? '' : `<ul>${verdict}</ul>`}
<p>Repro: <code>${escapeHtml(r.repro)}</code></p>
<div class="charts" data-run="${i}"></div></section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>galaxy simulate report</title>
<style>${uplotCss}</style>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td:nth-child(1), td:nth-child(4) { text-align: left; }
tr.surprising td, .status.surprising, li.reason { color: #b00; } tr.failed td, .status.failed { color: #b00; font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } .chart h3 { font-size: 0.95em; margin: 0.4em 0; }
small { font-weight: normal; color: #666; }
</style></head><body>
<h1>galaxy simulate</h1>
<p>${escapeHtml(results.command)} <small>(galaxy-farm ${escapeHtml(results.version)})</small></p>
<table><thead><tr><th>run</th><th>nodes</th><th>sim s</th><th>faults</th><th>converged</th><th>false susp.</th><th>false deaths</th><th>B/node/s</th><th>verdict</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>
${sections.join('\n')}
<script id="galaxy-simulate-data" type="application/json">${jsonForScript(results)}</script>
<script>${uplotJs}</script>
<script>${kChartScript}</script>
</body></html>
`;
}

/** Draws the four charts of every run from the inlined data. */
const kChartScript = `
(function () {
  var data = JSON.parse(document.getElementById('galaxy-simulate-data').textContent);
  var width = 520, height = 240;
  function chart(host, title, opts, columns) {
    var box = document.createElement('div');
    box.className = 'chart';
    var h = document.createElement('h3');
    h.textContent = title;
    box.appendChild(h);
    host.appendChild(box);
    opts.width = width; opts.height = height;
    new uPlot(opts, columns, box);
  }
  data.runs.forEach(function (run, i) {
    var host = document.querySelector('.charts[data-run="' + i + '"]');
    var r = run.result;
    if (!r) return;
    var s = r.series;
    chart(host, 'Convergence (sampled observers)', {
      scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [{ label: 'simulated s' }, { label: 'fraction' }],
      series: [{}, { label: 'observers converged', stroke: '#1f77b4', spanGaps: false }, { label: 'view agreement', stroke: '#2ca02c' }]
    }, [s.timeS, s.convergedObservers, s.viewAgreement]);
    if (r.detection.ms.length > 0) {
      chart(host, 'Detection time (crash to dead, per observer): CDF', {
        scales: { x: { time: false }, y: { range: [0, 1] } },
        axes: [{ label: 'ms after the crash' }, { label: 'fraction of pairs' }],
        series: [{}, { label: 'detected', stroke: '#d62728', paths: uPlot.paths.stepped({ align: 1 }) }]
      }, [r.detection.ms, r.detection.fraction]);
    }
    chart(host, 'False suspicions and deaths (cumulative)', {
      scales: { x: { time: false } },
      axes: [{ label: 'simulated s' }, { label: 'count' }],
      series: [{}, { label: 'false suspicions', stroke: '#ff7f0e' }, { label: 'false deaths', stroke: '#b00', width: 2 }, { label: 'dead while stalled', stroke: '#9467bd' }]
    }, [s.timeS, s.falseSuspicions, s.falseDeaths, s.deadWhilePaused]);
    chart(host, 'Bytes per node per second', {
      scales: { x: { time: false } },
      axes: [{ label: 'simulated s' }, { label: 'B/node/s', size: 60 }],
      series: [{}, { label: 'sent', stroke: '#17becf' }]
    }, [s.timeS, s.bytesPerNodePerSecond]);
  });
})();
`;

/** JSON safe inside a script element: no "</script", no HTML comment openers. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
