// What the CSV import shows: the gateway's report on a file (every bad row by line and field), and which
// import it offers: all rows when every one is good, only the good ones when the user asks for that.

const $ = (selector) => document.querySelector(selector);

/** `report` null: nothing checked yet. `busy`: a check or an import is under way. */
export function renderImport({ fileName, report, busy, connected }) {
  const problems = report?.problems ?? [];
  const body = $('#import-problems tbody');
  body.replaceChildren();
  for (const p of problems) {
    const row = body.insertRow();
    for (const [label, text] of [['Line', String(p.line)], ['Field', p.field], ['Problem', p.message]]) {
      const td = row.insertCell();
      td.dataset.label = label;
      td.textContent = text;
    }
  }
  $('#import-problems').hidden = problems.length === 0;
  const headerBad = problems.some((p) => p.line === 1);
  const good = report ? report.rows - report.badRows : 0;
  $('#import-all').hidden = !report || report.imported || problems.length > 0 || good === 0;
  $('#import-all').textContent = `Import ${good} host${good === 1 ? '' : 's'}`;
  $('#import-good').hidden = !report || report.imported || problems.length === 0 || headerBad || good === 0;
  $('#import-good').textContent = `Import only the ${good} good row${good === 1 ? '' : 's'}`;
  for (const b of ['#import-all', '#import-good', '#import-file']) $(b).disabled = busy || !connected;
  $('#import-summary').textContent = !connected ? 'Not connected: sign in to import hosts.' : summary(fileName, report, busy);
}

function summary(fileName, report, busy) {
  if (busy) return `Working on ${fileName}…`;
  if (!report) return 'Choose a CSV file: its rows are checked before anything is imported.';
  const bad = report.badRows;
  if (report.imported) {
    const hosts = report.jobs.reduce((n, j) => n + j.hosts, 0);
    return `Imported ${hosts} host${hosts === 1 ? '' : 's'} from ${fileName} in ${report.jobs.length} job${report.jobs.length === 1 ? '' : 's'}${bad > 0 ? `; ${bad} bad row${bad === 1 ? '' : 's'} skipped` : ''}.`;
  }
  if (report.problems.some((p) => p.line === 1)) return `${fileName}: the header row is wrong; nothing can be imported until it is fixed.`;
  if (report.rows === 0) return `${fileName} holds no rows.`;
  if (report.problems.length === 0) return `${fileName}: every row is good (${report.rows}).`;
  return `${fileName}: ${bad} of ${report.rows} row${report.rows === 1 ? '' : 's'} bad; nothing is imported unless you ask for the good rows only.`;
}
