import Yams

/// `fundq.yaml`: one mapping whose top-level keys are sections (`retention:`,
/// `status:`), each read by the part of fundq it configures.
public enum SettingsFile {
    /// The mapping under `name` in YAML `text` read from `source`; nil when
    /// the file is empty or has no such section. Malformed YAML, a document
    /// that is not a mapping, or a section that is not one is an error naming `source`.
    public static func section(_ name: String, in text: String, source: String) throws -> [String: Any]? {
        let tree: Any?
        do {
            tree = try Yams.load(yaml: text)
        } catch {
            throw ConfigurationError("\(source) is not valid YAML: \(error)")
        }
        guard let tree else { return nil }
        guard let root = tree as? [String: Any] else { throw ConfigurationError("\(source) must be a YAML mapping") }
        guard let section = root[name] else { return nil }
        guard let fields = section as? [String: Any] else { throw ConfigurationError("\(source): \(name) must be a mapping") }
        return fields
    }
}
