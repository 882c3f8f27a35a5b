public import CardModel

/// Why the bytes read from a tag's user memory are not a readable NDEF area.
///
/// With a complete read, such memory holds no identifiable CUS record:
/// ``CardRecordVerifier/presentation(userMemory:uid:technology:)`` checks the card by its UID.
public enum CardMemoryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The data ended inside the TLV that starts at `offset`.
    case truncatedTLV(offset: Int)
    /// The TLV at `offset` has the 3-byte length `FF FF FF`, which NFC Forum reserves.
    case reservedTLVLength(offset: Int)
    /// The NDEF message ended inside the record that starts at `offset`.
    case truncatedRecord(offset: Int)
    /// The record at `offset` breaks the message framing (Message Begin flag missing or repeated).
    case badMessageStructure(offset: Int)
    /// Page 3 is not an NDEF capability container (no `E1` magic or an unknown major version).
    case notNDEFFormatted

    /// What went wrong and what to do next.
    public var description: String {
        let next = "tap the card again; if this repeats, check it by its number and have it reissued"
        switch self {
        case .truncatedTLV(let offset):
            return "card memory ends inside the TLV at byte \(offset): \(next)"
        case .reservedTLVLength(let offset):
            return "the TLV at byte \(offset) has the reserved length FFFF: the card's memory is damaged; \(next)"
        case .truncatedRecord(let offset):
            return "the NDEF message ends inside the record at byte \(offset): \(next)"
        case .badMessageStructure(let offset):
            return "the NDEF record at byte \(offset) breaks the message framing: \(next)"
        case .notNDEFFormatted:
            return "the tag is not NDEF-formatted (page 3 is not E1 1x …): use a factory-formatted NTAG21x tag"
        }
    }
}

/// Why a card record could not be built for writing.
public enum CardEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The record carries no entitlement; a card with nothing to check is an issuance mistake.
    case noEntitlements
    /// A family role was given without the large-family entitlement.
    case roleWithoutLargeFamily
    /// The large-family entitlement was given without a family role.
    case largeFamilyWithoutRole
    /// The end date cannot be stored (before 1970-01-01 or after 2149-06-05).
    case validUntilOutOfRange(CivilDate)
    /// The record does not fit in the tag's NDEF data area.
    case doesNotFit(needed: Int, capacity: Int, tag: TagType)
    /// The crypto library refused to sign (it should never happen).
    case signingFailed

    /// What is wrong with the content and how to fix it.
    public var description: String {
        switch self {
        case .noEntitlements:
            return "the card has no entitlement: add at least one (senior60, large_family, disability, staff)"
        case .roleWithoutLargeFamily:
            return "a family role is set but the large_family entitlement is not: add large_family or drop the role"
        case .largeFamilyWithoutRole:
            return "large_family needs a role: set parent or child"
        case .validUntilOutOfRange(let day):
            return "the end date \(day) cannot be stored on the card (1970-01-01...2149-06-05): correct it"
        case .doesNotFit(let needed, let capacity, let tag):
            return "the record needs \(needed) bytes but a \(tag.rawValue) tag holds \(capacity): use an NTAG213 or larger tag"
        case .signingFailed:
            return "the signing key could not sign the record: check the key file, then try again"
        }
    }
}

/// Why a key file, key directory or systemd credential could not be used.
public enum KeyFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `open(2)` or `stat(2)` failed with `errno`.
    case cannotOpen(path: String, errno: Int32, reason: String)
    /// The path is neither a regular file nor (where allowed) a directory.
    case notARegularFile(path: String)
    /// A signing key file is readable or writable by the group or by others.
    case insecurePermissions(path: String, mode: UInt32)
    /// The file is larger than any key file can be.
    case tooLarge(path: String)
    /// A line is not `keyid:key`; `reason` says what is wrong with it.
    case malformedLine(path: String, line: Int, reason: String)
    /// The same key id appears twice.
    case duplicateKeyID(UInt8, path: String)
    /// The file or directory holds no key.
    case noKeys(path: String)
    /// A signing key file holds more than one key.
    case moreThanOneKey(path: String)
    /// The private half of a signing key does not match its public half.
    case inconsistentPrivateKey(path: String)
    /// `$CREDENTIALS_DIRECTORY` is not set: the process was not started by systemd with a credential.
    case credentialsDirectoryUnset(name: String)
    /// A credential name that is empty or contains `/` or is `.`/`..`.
    case badCredentialName(String)
    /// Key generation refuses to overwrite an existing file.
    case fileExists(path: String)
    /// Writing a key file failed with `errno`.
    case cannotWrite(path: String, errno: Int32, reason: String)

    /// What went wrong with the file and how to fix it.
    public var description: String {
        let format = "each line is keyid:key, keyid 0-255, the key as hex or base64"
        switch self {
        case .cannotOpen(let path, _, let reason):
            return "cannot open \(path): \(reason); check the path and that the kiosk user may read it"
        case .notARegularFile(let path):
            return "\(path) is not a regular file: point the setting at the key file itself"
        case .insecurePermissions(let path, let mode):
            return "\(path) has mode \(String(mode & 0o7777, radix: 8)), so other users may read the signing key: run `chmod 600 \(path)` (and consider rotating the key if others could read it)"
        case .tooLarge(let path):
            return "\(path) is too large to be a key file: check the path"
        case .malformedLine(let path, let line, let reason):
            return "\(path):\(line): \(reason); \(format)"
        case .duplicateKeyID(let id, let path):
            return "key id \(id) appears twice (in \(path)): give every key its own id"
        case .noKeys(let path):
            return "\(path) holds no key: add a line keyid:key (\(format))"
        case .moreThanOneKey(let path):
            return "\(path) holds more than one key: a signing key file holds exactly one"
        case .inconsistentPrivateKey(let path):
            return "the private key in \(path) does not match its public half: the file is damaged; restore it from the backup"
        case .credentialsDirectoryUnset(let name):
            return "$CREDENTIALS_DIRECTORY is not set: start the service under systemd with LoadCredential=\(name):/path/to/key (or LoadCredentialEncrypted=)"
        case .badCredentialName(let name):
            return "\"\(name)\" is not a credential name: use a plain name without '/'"
        case .fileExists(let path):
            return "\(path) already exists: refusing to overwrite a key; move it away or choose another path"
        case .cannotWrite(let path, _, let reason):
            return "cannot write \(path): \(reason); check the directory exists and is writable"
        }
    }
}
