// The enrolment's otpauth:// URI as a QR code, drawn as SVG elements (no markup parsed), with uqr served
// from the installed package like the graphql-ws client.
import { encode } from '/assets/uqr/index.mjs';

const NS = 'http://www.w3.org/2000/svg';

export function qrCode(text, label) {
  const { size, data } = encode(text, { ecc: 'M', border: 2 });
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const back = document.createElementNS(NS, 'rect');
  back.setAttribute('width', String(size));
  back.setAttribute('height', String(size));
  back.setAttribute('fill', '#fff');
  const dots = document.createElementNS(NS, 'path');
  let d = '';
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) if (data[row][col]) d += `M${col},${row}h1v1h-1z`;
  }
  dots.setAttribute('d', d);
  dots.setAttribute('fill', '#000');
  svg.append(back, dots);
  return svg;
}
