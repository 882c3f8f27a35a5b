#ifndef CNFC_SHIM_H
#define CNFC_SHIM_H
#include <nfc/nfc.h>
#include <string.h>

// Thin helpers for what Swift cannot reach comfortably: fixed-size C arrays (nfc_connstring,
// the UID buffer inside a union) and the target-info union. Nothing here adds behaviour.

/// Fills `out` (at least NFC_BUFSIZE_CONNSTRING bytes) with the first reader libnfc's scan finds.
/// Returns 1 when one was found, 0 otherwise.
static inline int cnfc_first_connstring(nfc_context *context, char *out, size_t outlen) {
    nfc_connstring found[1];
    memset(found, 0, sizeof(found));
    if (nfc_list_devices(context, found, 1) < 1 || outlen == 0) {
        return 0;
    }
    strncpy(out, found[0], outlen - 1);
    out[outlen - 1] = '\0';
    return 1;
}

/// An ISO 14443-A 106 kbps modulation, the one kind of card the kiosk reads.
static inline nfc_modulation cnfc_iso14443a_106(void) {
    nfc_modulation m;
    m.nmt = NMT_ISO14443A;
    m.nbr = NBR_106;
    return m;
}

/// Copies the UID of an ISO 14443-A target into `out` (10 bytes) and returns its length.
static inline size_t cnfc_target_uid(const nfc_target *target, uint8_t *out) {
    size_t n = target->nti.nai.szUidLen;
    if (n > 10) { n = 10; }
    memcpy(out, target->nti.nai.abtUid, n);
    return n;
}

/// The SAK of an ISO 14443-A target.
static inline uint8_t cnfc_target_sak(const nfc_target *target) {
    return target->nti.nai.btSak;
}

/// The ATQA of an ISO 14443-A target, first byte in the high half.
static inline uint16_t cnfc_target_atqa(const nfc_target *target) {
    return (uint16_t)((target->nti.nai.abtAtqa[0] << 8) | target->nti.nai.abtAtqa[1]);
}

#endif
