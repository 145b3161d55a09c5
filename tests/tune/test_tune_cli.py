#!/usr/bin/env python3
"""carve tune / carve presets from the command line: pairing by file stem
(unpaired files named, exit 2), fewer than 2 pairs, an unreadable reference
named, the same seed gives a byte-identical style.json whatever --threads,
Ctrl-C writes the best preset so far and exits 130, and the preset works as
--config and installed by name (--preset NAME).

Usage: test_tune_cli.py PATH/TO/carve"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CARVE = os.path.abspath(sys.argv[1])
DATA = os.environ.get('CARVE_TEST_DATA', os.path.join(os.path.dirname(__file__), '..', 'data'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from checks import check, finish  # noqa: E402


def run(*args, env=None):
    return subprocess.run([CARVE] + list(args), capture_output=True, text=True, env=env)


def main():
    tmp = tempfile.mkdtemp(prefix='carve-tune-cli-')
    try:
        photos, refs = os.path.join(tmp, 'photos'), os.path.join(tmp, 'refs')
        os.makedirs(photos)
        os.makedirs(refs)
        names = ['bus_red_london_plate', 'sedan_black_side', 'supercar_white_plate']
        for n in names:
            src = os.path.join(DATA, 'samples', n + '.jpg')
            shutil.copy(src, os.path.join(photos, n + '.jpg'))
            r = run('run', src, '-o', os.path.join(refs, n + '.svg'), '-q', '--work-size', '256',
                    '--colors', '5', '--flatten', '3', '--mode', 'polygon')
            check(r.returncode == 0, 'reference made: %s' % r.stderr)
        base = ['tune', '--photos', photos, '--references', refs, '--work-size', '256', '-q']
        # unpaired: named, exit 2; --allow-unpaired goes on
        open(os.path.join(refs, 'orphan.svg'), 'w').write('<svg xmlns="http://www.w3.org/2000/svg"/>')
        r = run(*base, '-o', os.path.join(tmp, 'x.json'), '--trials', '2')
        check(r.returncode == 2 and "'orphan.svg' has no photo" in r.stderr, 'unpaired named: %r' % r.stderr)
        os.unlink(os.path.join(refs, 'orphan.svg'))
        # an unreadable reference is named
        bad = os.path.join(refs, names[2] + '.svg')
        good = open(bad, 'rb').read()
        open(bad, 'w').write('<svg broken')
        r = run(*base, '-o', os.path.join(tmp, 'x.json'), '--trials', '2')
        check(r.returncode != 0 and names[2] in r.stderr, 'unreadable reference named: %r' % r.stderr)
        open(bad, 'wb').write(good)
        # fewer than 2 pairs
        one = os.path.join(tmp, 'one')
        os.makedirs(one)
        shutil.copy(os.path.join(photos, names[0] + '.jpg'), one)
        r = run('tune', '--photos', one, '--references', refs, '--allow-unpaired', '-o', os.path.join(tmp, 'x.json'))
        check(r.returncode == 2 and 'at least 2' in r.stderr, 'fewer than 2 pairs: %r' % r.stderr)
        # same seed, same bytes, whatever the threads
        a, b = os.path.join(tmp, 'a.json'), os.path.join(tmp, 'b.json')
        r1 = run(*base, '-o', a, '--trials', '5', '--seed', '3', '--threads', '1')
        r2 = run(*base, '-o', b, '--trials', '5', '--seed', '3', '--threads', '2')
        check(r1.returncode == 0 and r2.returncode == 0, 'tunings ran: %s %s' % (r1.stderr, r2.stderr))
        check(open(a, 'rb').read() == open(b, 'rb').read(), 'byte-identical style.json across --threads')
        # the preset as a config file and installed by name
        r = run('run', os.path.join(photos, names[1] + '.jpg'), '-o', os.path.join(tmp, 'c.svg'), '--config', a, '-q')
        check(r.returncode == 0, 'carve run --config style.json: %s' % r.stderr)
        env = dict(os.environ, CARVE_PRESETS_DIR=os.path.join(tmp, 'presets'))
        r = run('presets', 'add', 'house', a, env=env)
        check(r.returncode == 0, 'presets add: %s' % r.stderr)
        r = run('run', os.path.join(photos, names[1] + '.jpg'), '-o', os.path.join(tmp, 'd.svg'), '--preset', 'house',
                '-q', env=env)
        check(r.returncode == 0 and open(os.path.join(tmp, 'c.svg')).read() == open(os.path.join(tmp, 'd.svg')).read(),
              '--preset house gives the same SVG as --config: %s' % r.stderr)
        r = run('presets', 'list', env=env)
        check('house' in r.stdout, 'presets list: %r' % r.stdout)
        # Ctrl-C: the best preset so far, exit 130
        out = os.path.join(tmp, 'int.json')
        p = subprocess.Popen([CARVE] + base + ['-o', out, '--trials', '2000'], stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        time.sleep(2)
        while time.time() < deadline and p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        err = p.stderr.read()
        check(p.returncode == 130, 'Ctrl-C exits 130: %r %s' % (p.returncode, err))
        check(os.path.exists(out) and 'colors' in open(out).read() or 'no trial' in err,
              'Ctrl-C writes the best preset so far: %s' % err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == '__main__':
    sys.exit(main())
