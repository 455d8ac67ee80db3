// A small root file system for tests, from Debian's busybox-static: /bin/busybox and links to
// it, /etc/passwd and /etc/group with a user "app" (1000:1000).
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Member } from './image-builder.js';
import { readFileSync } from 'node:fs';

export const BUSYBOX = '/bin/busybox';
export const haveBusybox = existsSync(BUSYBOX);
export const NO_BUSYBOX = 'needs a static busybox at /bin/busybox (Debian: busybox-static)';

const APPLETS = [
  'sh',
  'ls',
  'cat',
  'id',
  'ps',
  'mount',
  'touch',
  'echo',
  'hostname',
  'pwd',
  'df',
  'dd',
  'sleep',
  'rm',
  'env',
  'stat',
  'grep',
  'mkdir',
  'wc',
  'head',
  'tail',
  'tr',
  'sort',
];
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\naudio:x:29:app\napp:x:1000:\n';

/** Writes the tree into `dir` (which exists; made 0755, so any user may enter it). */
export function busyboxRoot(dir: string): string {
  chmodSync(dir, 0o755);
  mkdirSync(`${dir}/bin`, { recursive: true });
  mkdirSync(`${dir}/etc`, { recursive: true });
  copyFileSync(BUSYBOX, `${dir}/bin/busybox`);
  for (const a of APPLETS) symlinkSync('busybox', `${dir}/bin/${a}`);
  writeFileSync(`${dir}/etc/passwd`, PASSWD);
  writeFileSync(`${dir}/etc/group`, GROUP);
  return dir;
}

/** The same tree as tar members, for an image's base layer. */
export function busyboxMembers(): Member[] {
  return [
    { path: 'bin/', type: 'dir' },
    { path: 'etc/', type: 'dir' },
    { path: 'bin/busybox', mode: 0o755, body: readFileSync(BUSYBOX) },
    ...APPLETS.map((a): Member => ({ path: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { path: 'etc/passwd', body: PASSWD },
    { path: 'etc/group', body: GROUP },
  ];
}
