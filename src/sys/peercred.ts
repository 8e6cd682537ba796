// SO_PEERCRED of a connected unix socket: who connected (pid, uid, gid as the kernel recorded them
// at connect time). Node has no getsockopt, so perl (perl-base, essential on Debian) reads it from
// the socket's file descriptor, passed to it as fd 3.
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

const SCRIPT =
  'open(my $s, "+<&=3") or die "open: $!\\n"; my $c = getsockopt($s, SOL_SOCKET, SO_PEERCRED) or die "getsockopt: $!\\n"; print join(" ", unpack("iII", $c)), "\\n";';

export function peerCred(sock: Socket): Promise<PeerCred> {
  return new Promise((resolve, reject) => {
    // the raw fd, not the Socket: handing a Socket to spawn's stdio makes Node stop reading it, and
    // the client's stdin frames that arrive meanwhile would never be seen
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) {
      reject(new Error('SO_PEERCRED: the socket has no file descriptor'));
      return;
    }
    const child = spawn('perl', ['-MSocket', '-e', SCRIPT], { stdio: ['ignore', 'pipe', 'pipe', fd] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /^(-?\d+) (\d+) (\d+)$/.exec(out.trim());
      if (code !== 0 || !m) {
        reject(new Error(`SO_PEERCRED: ${err.trim() || `perl exited ${code}`}`));
        return;
      }
      resolve({ pid: Number(m[1]), uid: Number(m[2]), gid: Number(m[3]) });
    });
  });
}
