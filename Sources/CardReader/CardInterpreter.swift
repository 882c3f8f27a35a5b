public import CardModel

/// Turns what was read from a tag into what the kiosk checks.
///
/// The daemon supplies one backed by `CardFormat` (NDEF parsing and the Ed25519 signature check);
/// tests supply small ones. It is called on the reader's own thread, once per tap, only with
/// complete data: a read that failed part-way never reaches it (the tap becomes
/// ``Presentation/unreadable(technology:)``).
public protocol CardInterpreter: Sendable {
    /// Interprets one tag.
    /// - Parameters:
    ///   - uid: the chip UID reported by the reader.
    ///   - technology: the chip type (`ntag213/215/216`, `ultralight`): for an NTAG21x from its
    ///     capability container's size byte, otherwise from GET_VERSION. Shown and logged only.
    ///   - userMemory: the bytes from page 4 on (the NDEF TLV area), whole pages, as far as the
    ///     NDEF TLV reaches (to the end of user memory if the TLVs claim more, so the interpreter
    ///     can call it malformed); the first 12 bytes when the capability container is not NDEF.
    /// - Returns: normally ``Presentation/chip(uid:technology:record:)`` or
    ///   ``Presentation/counterfeit(uid:technology:why:)``.
    func interpret(uid: ChipUID, technology: CardTechnology, userMemory: [UInt8]) -> Presentation
}
