#!/usr/bin/python3
"""check_dxf.py CASE... — CASE is FILE:WIDTH_MM:HEIGHT_MM:CUT:LAYER=COUNT,...
(one Python start for all).  Reads each carve DXF with ezdxf (Debian
python3-ezdxf) and checks: R2000, $INSUNITS = 4 (mm), ezdxf's audit finds no
error, every entity a closed LWPOLYLINE, per colour layer the
expected number of entities (one per subpath of the SVG), each colour layer's
true colour equal to its name, everything inside WIDTH x HEIGHT mm, and with
CUT = 1 a CutContour layer holding closed polylines."""
import sys
from collections import Counter

import ezdxf

errors = []


def check(cond, what):
    if not cond:
        errors.append(what)


def check_file(path, wmm, hmm, cut, want):
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


for case in sys.argv[1:]:
    f, w, h, c, layers = case.split(':')
    n0 = len(errors)
    check_file(f, float(w), float(h), c == '1', {a.split('=')[0]: int(a.split('=')[1]) for a in layers.split(',') if a})
    if len(errors) == n0:
        print('check_dxf ok: %s' % f)
    else:
        sys.stderr.write('check_dxf %s:\n  %s\n' % (f, '\n  '.join(errors[n0:n0 + 10])))
sys.exit(1 if errors or len(sys.argv) < 2 else 0)
