// Docker's default seccomp profile for x86-64 (with its i386 and x32 sub-architectures),
// written as grouped syscall lists: everything not listed fails with EPERM. Capability groups
// open up only when the container's capability set (bounding set) holds that capability,
// exactly as moby's profiles/seccomp does. Pure: no I/O.
//
// Syscall names unknown to the host's libseccomp are skipped by runc 1.1 (debug log), so the
// list may name syscalls newer than Debian 12's libseccomp 2.5.4. Checked against moby's
// vendored profiles/seccomp/default.json (2026): same allowlist and rules for amd64.

export type SeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG';

export type SeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

export interface LinuxSeccompArg {
  index: number;
  /** for SCMP_CMP_MASKED_EQ: the mask */
  value: number;
  /** for SCMP_CMP_MASKED_EQ: the value compared with (arg & mask) */
  valueTwo?: number;
  op: SeccompOperator;
}

export interface LinuxSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: LinuxSyscall[];
}

const EPERM = 1;
const ENOSYS = 38;

/** Allowed for every container, whatever its capabilities. Grouped by purpose for review. */
export const BASE_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  files: [
    'access',
    'chdir',
    'chmod',
    'chown',
    'chown32',
    'close',
    'close_range',
    'copy_file_range',
    'creat',
    'dup',
    'dup2',
    'dup3',
    'faccessat',
    'faccessat2',
    'fadvise64',
    'fadvise64_64',
    'fallocate',
    'fchdir',
    'fchmod',
    'fchmodat',
    'fchmodat2',
    'fchown',
    'fchown32',
    'fchownat',
    'fcntl',
    'fcntl64',
    'fdatasync',
    'flock',
    'fstat',
    'fstat64',
    'fstatat64',
    'fstatfs',
    'fstatfs64',
    'fsync',
    'ftruncate',
    'ftruncate64',
    'futimesat',
    'getcwd',
    'getdents',
    'getdents64',
    'lchown',
    'lchown32',
    'link',
    'linkat',
    '_llseek',
    'lseek',
    'lstat',
    'lstat64',
    'mkdir',
    'mkdirat',
    'mknod',
    'mknodat',
    'name_to_handle_at',
    'newfstatat',
    'open',
    'openat',
    'openat2',
    'pread64',
    'preadv',
    'preadv2',
    'pwrite64',
    'pwritev',
    'pwritev2',
    'read',
    'readahead',
    'readlink',
    'readlinkat',
    'readv',
    'rename',
    'renameat',
    'renameat2',
    'rmdir',
    'sendfile',
    'sendfile64',
    'splice',
    'stat',
    'stat64',
    'statfs',
    'statfs64',
    'statx',
    'symlink',
    'symlinkat',
    'sync',
    'sync_file_range',
    'syncfs',
    'tee',
    'truncate',
    'truncate64',
    'umask',
    'unlink',
    'unlinkat',
    'utime',
    'utimensat',
    'utimensat_time64',
    'utimes',
    'vmsplice',
    'write',
    'writev',
  ],
  xattrs: [
    'fgetxattr',
    'flistxattr',
    'fremovexattr',
    'fsetxattr',
    'getxattr',
    'lgetxattr',
    'listxattr',
    'llistxattr',
    'lremovexattr',
    'lsetxattr',
    'removexattr',
    'setxattr',
    'getxattrat',
    'listxattrat',
    'removexattrat',
    'setxattrat',
  ],
  polling: [
    'epoll_create',
    'epoll_create1',
    'epoll_ctl',
    'epoll_ctl_old',
    'epoll_pwait',
    'epoll_pwait2',
    'epoll_wait',
    'epoll_wait_old',
    'eventfd',
    'eventfd2',
    'fanotify_mark',
    'inotify_add_watch',
    'inotify_init',
    'inotify_init1',
    'inotify_rm_watch',
    '_newselect',
    'poll',
    'ppoll',
    'ppoll_time64',
    'pselect6',
    'pselect6_time64',
    'select',
    'signalfd',
    'signalfd4',
    'timerfd_create',
    'timerfd_gettime',
    'timerfd_gettime64',
    'timerfd_settime',
    'timerfd_settime64',
  ],
  /** io_uring_* are not allowed: docker removed them from its default profile (moby 25) */
  aio: [
    'io_cancel',
    'io_destroy',
    'io_getevents',
    'io_pgetevents',
    'io_pgetevents_time64',
    'io_setup',
    'io_submit',
    'ioctl',
  ],
  processes: [
    'capget',
    'capset',
    'execve',
    'execveat',
    'exit',
    'exit_group',
    'fork',
    'vfork',
    'wait4',
    'waitid',
    'waitpid',
    'getpgid',
    'getpgrp',
    'getpid',
    'getppid',
    'getpriority',
    'setpriority',
    'getsid',
    'setsid',
    'setpgid',
    'gettid',
    'getrlimit',
    'setrlimit',
    'ugetrlimit',
    'prlimit64',
    'getrusage',
    'prctl',
    'seccomp',
    'pidfd_open',
    'pidfd_send_signal',
    'process_mrelease',
    'restart_syscall',
    'rseq',
    'set_robust_list',
    'get_robust_list',
    'set_tid_address',
    'get_thread_area',
    'set_thread_area',
    'times',
    'uname',
    'sysinfo',
    'getcpu',
    'getrandom',
    'ioprio_get',
    'ioprio_set',
    'uretprobe',
    'listmount',
    'statmount',
    'landlock_add_rule',
    'landlock_create_ruleset',
    'landlock_restrict_self',
  ],
  credentials: [
    'getegid',
    'getegid32',
    'geteuid',
    'geteuid32',
    'getgid',
    'getgid32',
    'getgroups',
    'getgroups32',
    'getresgid',
    'getresgid32',
    'getresuid',
    'getresuid32',
    'getuid',
    'getuid32',
    'setfsgid',
    'setfsgid32',
    'setfsuid',
    'setfsuid32',
    'setgid',
    'setgid32',
    'setgroups',
    'setgroups32',
    'setregid',
    'setregid32',
    'setresgid',
    'setresgid32',
    'setresuid',
    'setresuid32',
    'setreuid',
    'setreuid32',
    'setuid',
    'setuid32',
  ],
  signals: [
    'kill',
    'tkill',
    'tgkill',
    'pause',
    'rt_sigaction',
    'rt_sigpending',
    'rt_sigprocmask',
    'rt_sigqueueinfo',
    'rt_sigreturn',
    'rt_sigsuspend',
    'rt_sigtimedwait',
    'rt_sigtimedwait_time64',
    'rt_tgsigqueueinfo',
    'sigaltstack',
    'sigprocmask',
    'sigreturn',
    'alarm',
    'getitimer',
    'setitimer',
  ],
  memory: [
    'brk',
    'madvise',
    'membarrier',
    'memfd_create',
    'memfd_secret',
    'mincore',
    'mlock',
    'mlock2',
    'mlockall',
    'mmap',
    'mmap2',
    'mprotect',
    'mremap',
    'msync',
    'munlock',
    'munlockall',
    'munmap',
    'pkey_alloc',
    'pkey_free',
    'pkey_mprotect',
    'remap_file_pages',
    'cachestat',
    'map_shadow_stack',
    'mseal',
  ],
  time: [
    'adjtimex',
    'clock_adjtime',
    'clock_adjtime64',
    'clock_getres',
    'clock_getres_time64',
    'clock_gettime',
    'clock_gettime64',
    'clock_nanosleep',
    'clock_nanosleep_time64',
    'gettimeofday',
    'nanosleep',
    'time',
    'timer_create',
    'timer_delete',
    'timer_getoverrun',
    'timer_gettime',
    'timer_gettime64',
    'timer_settime',
    'timer_settime64',
  ],
  threads: [
    'futex',
    'futex_time64',
    'futex_waitv',
    'futex_wait',
    'futex_wake',
    'futex_requeue',
    'sched_getaffinity',
    'sched_getattr',
    'sched_getparam',
    'sched_get_priority_max',
    'sched_get_priority_min',
    'sched_getscheduler',
    'sched_rr_get_interval',
    'sched_rr_get_interval_time64',
    'sched_setaffinity',
    'sched_setattr',
    'sched_setparam',
    'sched_setscheduler',
    'sched_yield',
  ],
  ipc: [
    'ipc',
    'mq_getsetattr',
    'mq_notify',
    'mq_open',
    'mq_timedreceive',
    'mq_timedreceive_time64',
    'mq_timedsend',
    'mq_timedsend_time64',
    'mq_unlink',
    'msgctl',
    'msgget',
    'msgrcv',
    'msgsnd',
    'semctl',
    'semget',
    'semop',
    'semtimedop',
    'semtimedop_time64',
    'shmat',
    'shmctl',
    'shmdt',
    'shmget',
    'pipe',
    'pipe2',
  ],
  network: [
    'accept',
    'accept4',
    'bind',
    'connect',
    'getpeername',
    'getsockname',
    'getsockopt',
    'listen',
    'recv',
    'recvfrom',
    'recvmmsg',
    'recvmmsg_time64',
    'recvmsg',
    'send',
    'sendmmsg',
    'sendmsg',
    'sendto',
    'setsockopt',
    'shutdown',
    'socketcall',
    'socketpair',
  ],
  /** x86 only: arch_prctl (amd64, x32), modify_ldt (amd64, x32, x86) */
  x86: ['arch_prctl', 'modify_ldt'],
  /** allowed without CAP_SYS_PTRACE on kernels >= 4.8 (this host runs 6.x) */
  ptrace: ['process_vm_readv', 'process_vm_writev', 'ptrace'],
};

/** Groups opened by one capability (present in the container's bounding set). */
export const CAP_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_SYS_ADMIN: [
    'bpf',
    'clone',
    'clone3',
    'fanotify_init',
    'fsconfig',
    'fsmount',
    'fsopen',
    'fspick',
    'lookup_dcookie',
    'lsm_get_self_attr',
    'lsm_list_modules',
    'lsm_set_self_attr',
    'mount',
    'mount_setattr',
    'move_mount',
    'open_tree',
    'perf_event_open',
    'quotactl',
    'quotactl_fd',
    'setdomainname',
    'sethostname',
    'setns',
    'syslog',
    'umount',
    'umount2',
    'unshare',
  ],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
};

/** personality(2) personas allowed: PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, query (0xffffffff). */
export const PERSONALITY_VALUES: readonly number[] = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** socket(2) is allowed for every address family but AF_ALG (38) and AF_VSOCK (40) */
const AF_ALG = 38;
const AF_NFC = 39;
const AF_VSOCK = 40;

export const SECCOMP_ARCHITECTURES: readonly string[] = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];

function normCap(c: string): string {
  const up = c.trim().toUpperCase();
  return up.startsWith('CAP_') ? up : `CAP_${up}`;
}

/**
 * Docker's default profile for a container whose bounding set is `caps`
 * (names with or without CAP_, any case).
 */
export function defaultSeccomp(caps: readonly string[]): LinuxSeccomp {
  const have = new Set(caps.map(normCap));
  const base = new Set<string>();
  for (const names of Object.values(BASE_SYSCALLS)) for (const n of names) base.add(n);

  const syscalls: LinuxSyscall[] = [{ names: [...base].sort(), action: 'SCMP_ACT_ALLOW' }];

  // one rule per range (conditions inside a rule are ANDed): family < AF_ALG, == AF_NFC, > AF_VSOCK
  syscalls.push(
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_ALG, op: 'SCMP_CMP_LT' }] },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_NFC, op: 'SCMP_CMP_EQ' }] },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_GT' }] },
  );
  for (const v of PERSONALITY_VALUES) {
    syscalls.push({
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: v, op: 'SCMP_CMP_EQ' }],
    });
  }

  for (const [cap, names] of Object.entries(CAP_SYSCALLS)) {
    if (have.has(cap)) syscalls.push({ names: [...names], action: 'SCMP_ACT_ALLOW' });
  }

  if (!have.has('CAP_SYS_ADMIN')) {
    // clone without namespace flags only; clone3 cannot be filtered by flags (they are in a
    // struct), so it answers ENOSYS and libc falls back to clone
    syscalls.push({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }

  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: [...SECCOMP_ARCHITECTURES],
    syscalls,
  };
}

/** Every syscall name the profile may mention (for tests and diagnostics). */
export function allProfileSyscalls(): string[] {
  const s = new Set<string>(['socket', 'personality', 'clone', 'clone3']);
  for (const names of Object.values(BASE_SYSCALLS)) for (const n of names) s.add(n);
  for (const names of Object.values(CAP_SYSCALLS)) for (const n of names) s.add(n);
  return [...s].sort();
}
