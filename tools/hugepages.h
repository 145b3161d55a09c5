/* hugepages.h — the tools' start-up tuning of glibc's allocator.
 *
 * On Linux/glibc a fresh carve process touches a few hundred MB once (the
 * ONNX models' weights and activations, the work images), and first-touch
 * page faults are costly: a quarter of a 1 Mpx run's CPU on the reference
 * VM.  glibc's malloc backs its large chunks with transparent huge pages
 * when the tunable glibc.malloc.hugetlb=1 is set (glibc >= 2.35, THP in
 * "madvise" or "always" mode), which cuts the faults ~8x and the wall time
 * of a 1 Mpx run by about a quarter (docs/BENCHMARKS.md).  Tunables are read
 * only when a process starts, so the tools re-execute themselves once with
 * the variable added.  Not part of libcarve: a program embedding the library
 * chooses its own allocator settings. */
#ifndef CARVE_TOOLS_HUGEPAGES_H
#define CARVE_TOOLS_HUGEPAGES_H

/** Re-executes the running program (/proc/self/exe, same argv and
 *  environment) with glibc.malloc.hugetlb=1 appended to GLIBC_TUNABLES and
 *  CARVE_HUGEPAGES=reexec (so it happens once), unless: CARVE_HUGEPAGES is
 *  0 or reexec, GLIBC_TUNABLES already names
 *  glibc.malloc.hugetlb, transparent huge pages are off ("[never]") or
 *  absent, or this is not Linux with glibc.  Returns only when it did not
 *  re-execute (nothing changed then; a failed exec is silent and harmless). */
void carve_tools_hugepages(char **argv);

#endif
