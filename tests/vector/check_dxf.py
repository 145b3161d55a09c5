#!/usr/bin/python3
"""check_dxf.py FILE WIDTH_MM HEIGHT_MM CUT LAYER=COUNT... — reads a carve DXF
with ezdxf (Debian python3-ezdxf) and checks: R2000, $INSUNITS = 4 (mm), ezdxf's
audit finds no error, every entity a closed LWPOLYLINE, per colour layer the
expected number of entities (one per subpath of the SVG), each colour layer's
true colour equal to its name, everything inside WIDTH x HEIGHT mm, and with
CUT = 1 a CutContour layer holding closed polylines."""
import sys
from collections import Counter

import ezdxf

path, wmm, hmm, cut = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == '1'
want = {a.split('=')[0]: int(a.split('=')[1]) for a in sys.argv[5:]}
errors = []


def check(cond, what):
    if not cond:
        errors.append(what)


doc = ezdxf.readfile(path)
check(doc.dxfversion == 'AC1015', 'version %s' % doc.dxfversion)
check(doc.header['$INSUNITS'] == 4 and doc.units == 4, 'units %r' % doc.header.get('$INSUNITS'))
aud = doc.audit()
check(not aud.has_errors, 'audit: %r' % [e.message for e in aud.errors][:3])
msp = doc.modelspace()
count = Counter()
tol = 1e-3
for e in msp:
    check(e.dxftype() == 'LWPOLYLINE', 'entity %s' % e.dxftype())
    if e.dxftype() != 'LWPOLYLINE':
        continue
    check(e.closed, 'open polyline on %s' % e.dxf.layer)
    count[e.dxf.layer] += 1
    for x, y in e.vertices():
        if not (-tol <= x <= wmm + tol and -tol <= y <= hmm + tol):
            check(False, 'vertex (%g, %g) outside %g x %g mm' % (x, y, wmm, hmm))
            break
for layer, n in want.items():
    check(count[layer] == n, 'layer %s: %d entities, want %d' % (layer, count[layer], n))
    lay = doc.layers.get(layer)
    check(lay is not None and lay.rgb == tuple(int(layer[6 + 2 * i:8 + 2 * i], 16) for i in range(3)),
          'layer %s true colour %r' % (layer, lay and lay.rgb))
extra = set(count) - set(want) - ({'CutContour'} if cut else set())
check(not extra, 'unexpected layers %r' % extra)
check(not cut or count['CutContour'] > 0, 'no CutContour entities')
check(sum(want.values()) > 0, 'no expected layers given')
if errors:
    sys.stderr.write('check_dxf %s:\n  %s\n' % (path, '\n  '.join(errors[:10])))
    sys.exit(1)
print('check_dxf ok: %d entities on %d layers' % (sum(count.values()), len(count)))
