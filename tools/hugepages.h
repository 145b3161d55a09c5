/* hugepages.h — the tools' start-up tuning of glibc's allocator.
 *
 * On Linux/glibc a fresh carve process touches a few hundred MB (the ONNX
 * models' weights and activations, the work images), and first-touch page
 * faults are costly: a quarter of a 1 Mpx run's CPU on the reference VM, and
 * more where glibc gives a freed buffer back to the kernel and the next one
 * is faulted in (and zeroed) again.  So the tools set glibc's malloc
 * tunables (glibc >= 2.35), which are read only when a process starts: they
 * re-execute themselves once with them added to GLIBC_TUNABLES.
 *   - both: glibc.malloc.hugetlb=1, large chunks on transparent huge pages
 *     (THP in "madvise" or "always" mode): ~8x fewer faults;
 *   - a one-job process (carve): also buffers up to 32 MB from the heap, no
 *     trimming and one arena, so that a buffer freed by one step (or
 *     thread) is reused by the next instead of faulted in anew: ~5x fewer
 *     faults again, the same peak RSS.  Not for carved, whose workers run
 *     for days (its RSS must go down after a large job).
 * docs/CLI.md has the numbers.  Not part of libcarve: a program embedding
 * the library chooses its own allocator settings. */
#ifndef CARVE_TOOLS_HUGEPAGES_H
#define CARVE_TOOLS_HUGEPAGES_H

/** Re-executes the running program (/proc/self/exe, same argv and
 *  environment) with the tunables above (one_job: the one-job set, else
 *  huge pages only) added to GLIBC_TUNABLES, each unless the caller's
 *  GLIBC_TUNABLES sets it already, and CARVE_HUGEPAGES=reexec (so it
 *  happens once).  Nothing happens when CARVE_HUGEPAGES is 0 or reexec,
 *  when the caller sets them all, when transparent huge pages are off
 *  ("[never]") or absent, or off Linux/glibc.  Returns only when it did not
 *  re-execute (a failed exec is silent and harmless). */
void carve_tools_hugepages(char **argv, int one_job);

#endif
