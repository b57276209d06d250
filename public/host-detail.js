// A host's detail: its SSH host key and how it is trusted, what changed since its previous credentialed
// scan, and its accounts with the privileged ones first. Values go into the page as text, never as HTML.

export const HOST_DETAIL_QUERY = `query($id: ID!) { host(id: $id) { id name
  sshHostKey { policy trustedFingerprint presentedFingerprint state }
  latestScan { os version scannedAt notes sshHostKeyFingerprint
    users { name uid privilege isPrivileged privilegeReasons isDisabled groups { name } }
    changesSincePrevious { kind subject privileged before after } } } }`;

const $ = (selector) => document.querySelector(selector);

const KEY_STATES = {
  trusted: 'trusted',
  mismatch: 'a different key was presented and is not trusted',
  unknown: 'no key recorded yet',
};

function element(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function facts(host) {
  const key = host.sshHostKey;
  const scan = host.latestScan;
  const rows = [
    ['Host', host.name],
    ['OS', scan ? [scan.os, scan.version].filter(Boolean).join(' ') : ''],
    ['Scanned', scan ? new Date(scan.scannedAt).toLocaleString() : 'never with credentials'],
    ['Host key', key.trustedFingerprint ?? ''],
    ['Key trust', `${KEY_STATES[key.state] ?? key.state} (${key.policy})`],
  ];
  if (key.presentedFingerprint) rows.push(['Presented key', key.presentedFingerprint]);
  return rows.flatMap(([term, value]) => {
    const dd = element('dd', value);
    dd.dataset.fact = term;
    if (term === 'Key trust') dd.className = `key-${key.state}`;
    return [element('dt', term), dd];
  });
}

/** "privilege-changed carol: LinuxUser → Administrator" */
const changeText = (c) => `${c.kind.replace(/-/g, ' ')} ${c.subject}${c.before || c.after ? `: ${c.before ?? '—'} → ${c.after ?? '—'}` : ''}`;

/** Privileged accounts first, each group by name. */
export const accountOrder = (a, b) => Number(b.isPrivileged) - Number(a.isPrivileged) || a.name.localeCompare(b.name);

export function renderHostDetail(host) {
  const panel = $('#host-detail');
  panel.hidden = !host;
  if (!host) return;
  const scan = host.latestScan;
  $('#host-detail dl').replaceChildren(...facts(host));
  const changes = scan?.changesSincePrevious ?? [];
  $('#host-changes').replaceChildren(...changes.map((c) => {
    const li = element('li', changeText(c), c.privileged ? 'change change-privileged' : 'change');
    li.dataset.kind = c.kind;
    return li;
  }));
  $('#host-changes-empty').hidden = changes.length > 0;
  $('#host-changes-empty').textContent = scan ? 'No changes since the previous scan.' : '';
  const body = $('#host-accounts tbody');
  body.replaceChildren();
  for (const user of [...(scan?.users ?? [])].sort(accountOrder)) {
    const row = body.insertRow();
    row.dataset.account = user.name;
    if (user.isPrivileged) row.className = 'privileged';
    const cells = [
      ['Account', `${user.name} (${user.uid})`],
      ['Privilege', user.privilege],
      ['Why', user.privilegeReasons.join('; ')],
      ['Groups', user.groups.map((g) => g.name).join(', ')],
      ['State', user.isDisabled ? 'disabled' : 'enabled'],
    ];
    for (const [label, text] of cells) {
      const td = row.insertCell();
      td.dataset.label = label;
      td.textContent = text;
    }
  }
  $('#host-accounts').hidden = !scan;
  $('#host-notes').textContent = scan?.notes.length ? `Not read: ${scan.notes.join('; ')}` : '';
  $('#host-notes').hidden = !scan?.notes.length;
}
