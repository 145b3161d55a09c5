"""A real PostgreSQL for carved's tests, started by the test itself.

initdb into a temporary folder as an unprivileged user (`nobody` when the
tests run as root, as in CI; the current user otherwise), a Unix socket in
that folder (no TCP port), pg_ctl stop and the folder removed at the end.
`find_bindir()` returns None when the Debian postgresql package is missing
(the caller then skips with exit 77)."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

UNPRIVILEGED = 'nobody'


def find_bindir():
    cands = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'), key=lambda p: int(p.split('/')[4]), reverse=True)
    return os.path.dirname(cands[0]) if cands else None


class Postgres:
    def __init__(self, bindir, fsync=False):
        self.bin = bindir
        self.fsync = fsync
        self.tmp = tempfile.mkdtemp(prefix='carve-pg-')
        self.data = os.path.join(self.tmp, 'data')
        self.log = os.path.join(self.tmp, 'postgres.log')
        self.prefix = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            pw = pwd.getpwnam(UNPRIVILEGED)
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
            self.prefix = ['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid, '--clear-groups', '--']
        os.chmod(self.tmp, 0o755)
        self._run('initdb', '-D', self.data, '-A', 'trust', '-U', 'carve', '--no-sync', '-E', 'UTF8',
                  '--no-instructions')
        self.uri = 'postgresql:///postgres?host=%s&user=carve' % self.tmp
        self.start()

    def _run(self, tool, *args, check=True):
        r = subprocess.run(self.prefix + [os.path.join(self.bin, tool)] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, cwd=self.tmp)
        if check and r.returncode != 0:
            raise RuntimeError('%s failed: %s' % (tool, r.stdout.decode(errors='replace')[-2000:]))
        return r

    def start(self):
        # fsync off for tests (carved's behaviour, not the disk's); on for benchmarks
        opts = "-k %s -c listen_addresses='' -c max_connections=200" % self.tmp
        if not self.fsync:
            opts += ' -c fsync=off -c synchronous_commit=off'
        self._run('pg_ctl', '-D', self.data, '-l', self.log, '-o', opts, '-w', '-t', '60', 'start')

    def stop(self, mode='fast'):
        self._run('pg_ctl', '-D', self.data, '-m', mode, '-w', '-t', '60', 'stop', check=False)

    def sql(self, query):
        """Runs one statement with psql; returns its rows as lists of strings."""
        r = subprocess.run([os.path.join(self.bin, 'psql'), '-h', self.tmp, '-U', 'carve', '-d', 'postgres', '-At',
                            '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', query], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError('psql: %s' % r.stderr.decode(errors='replace'))
        return [line.split('\t') for line in r.stdout.decode().splitlines() if line]

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self._run('pg_isready', '-h', self.tmp, '-U', 'carve', check=False).returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
