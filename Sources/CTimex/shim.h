#ifndef CTIMEX_SHIM_H
#define CTIMEX_SHIM_H
// <sys/timex.h> is not in Swift's Glibc module: ntp_adjtime() tells whether the kernel's clock is
// synchronised (kioskctl doctor). Nothing here adds behaviour.
#include <sys/timex.h>
#endif
