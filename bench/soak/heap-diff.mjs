/**
 * NAME
 *   bench/soak/heap-diff - what grew between two V8 heap snapshots
 *
 * SYNOPSIS
 *   node bench/soak/heap-diff.mjs before.heapsnapshot after.heapsnapshot [rows]
 *
 * DESCRIPTION
 *   Reads both .heapsnapshot files (the JSON V8 writes on --heapsnapshot-signal), groups the
 *   nodes by type and constructor name (strings by their first 40 characters' "shape": kind only)
 *   and prints the groups whose self size grew most: name, count before → after, self size in KB
 *   before → after. For the soak's "is it a leak" question (bench/soak/run.ts, SOAK_SNAPSHOT_AT).
 */
import { readFileSync } from 'node:fs';

function groups(path) {
  const snap = JSON.parse(readFileSync(path, 'utf8'));
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = meta.node_types[typeAt];
  const nodes = snap.nodes;
  const strings = snap.strings;
  const edgeFields = meta.edge_fields;
  const edgeWidth = edgeFields.length;
  const edgeTypes = meta.edge_types[edgeFields.indexOf('type')];
  const edgeCountAt = fields.indexOf('edge_count');
  const edges = snap.edges;
  const out = new Map();
  let total = 0;
  let edge = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    const size = nodes[i + sizeAt];
    const edgeCount = nodes[i + edgeCountAt];
    total += size;
    let key = type === 'object' || type === 'closure' || type === 'native' ? `${type}:${strings[nodes[i + nameAt]]}` : `(${type})`;
    // Plain objects and arrays say little by constructor: name them by their first property names.
    if (key === 'object:Object') {
      const props = [];
      for (let e = edge; e < edge + edgeCount * edgeWidth && props.length < 5; e += edgeWidth) {
        if (edgeTypes[edges[e]] === 'property') props.push(strings[edges[e + 1]]);
      }
      key += `{${props.join(',')}}`;
    }
    edge += edgeCount * edgeWidth;
    const g = out.get(key) ?? { count: 0, size: 0 };
    g.count++;
    g.size += size;
    out.set(key, g);
  }
  return { out, total };
}

const [, , a, b, rows = '40'] = process.argv;
const before = groups(a);
const after = groups(b);
const keys = new Set([...before.out.keys(), ...after.out.keys()]);
const diff = [...keys].map((k) => {
  const x = before.out.get(k) ?? { count: 0, size: 0 };
  const y = after.out.get(k) ?? { count: 0, size: 0 };
  return { k, c0: x.count, c1: y.count, s0: x.size, s1: y.size, d: y.size - x.size };
});
diff.sort((p, q) => q.d - p.d);
const kb = (n) => (n / 1024).toFixed(0);
console.log(`total self size ${kb(before.total)} KB → ${kb(after.total)} KB`);
for (const r of diff.slice(0, Number(rows))) console.log(`${r.k.slice(0, 70).padEnd(70)} ${String(r.c0).padStart(8)} → ${String(r.c1).padStart(8)}  ${kb(r.s0).padStart(7)} → ${kb(r.s1).padStart(7)} KB  (+${kb(r.d)})`);
