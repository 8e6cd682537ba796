// docker/go-units, shared by the daemon and the CLI: human durations ("2 minutes") and sizes
// read the way docker reads them ("512m"). Pure: no I/O.

// go-units HumanDuration; `ms` is a duration in milliseconds.
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3600000) / 24 / 365)} years`;
}

// go-units RAMInBytes: "512m", "1g", "1.5GB", "100" -> bytes (binary multipliers).
export function ramInBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (!m) {
    const suf = /^(\d+(?:\.\d+)*) ?(.*)$/.exec(s);
    if (suf?.[2]) throw new Error(`invalid suffix: '${suf[2]}'`);
    throw new Error(`invalid size: '${s}'`);
  }
  if (m[1].split('.').length > 2) throw new Error(`invalid size: '${s}'`); // Go's ParseFloat refuses "1.2.3"
  const n = parseFloat(m[1]);
  const mult: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  const u = m[2] ? mult[m[2].toLowerCase()] : 1;
  return Math.trunc(n * u);
}
