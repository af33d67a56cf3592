public import Foundation

/// Settings that may be secret, looked up where secrets belong rather than
/// on a command line (visible in `ps`): a setting `NAME` comes from the
/// environment variable `NAME`, else from the file named by `NAME_FILE`
/// (its content, surrounding whitespace trimmed), else from the line
/// `NAME=value` of the secrets file named by `FUNDQ_SECRETS_FILE`.
/// Its description never shows a value.
public struct SecretSettings: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    /// The environment the settings are read from.
    let environment: [String: String]

    /// Settings read from `environment` (only its `FUNDQ_` and credential
    /// variables matter; the whole is kept so credential names may be any).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// "secret settings (N variables, values hidden)".
    public var description: String { "secret settings (\(environment.count) variables, values hidden)" }

    /// No values in `dump` or `debugPrint` either.
    public var customMirror: Mirror { Mirror(self, children: ["variables": environment.keys.sorted()]) }

    /// The variable naming the secrets file.
    public static let secretsFileVariable = "FUNDQ_SECRETS_FILE"

    /// The `NAME=value` lines of the secrets file (empty when none is named);
    /// throws when it is named but cannot be read. Blank lines and lines
    /// starting with `#` are skipped; the value is kept exactly. A line
    /// without `=`, a name that is not a variable name, or a name set twice
    /// is an error naming the file and the line (never the line's text: it
    /// may hold a secret).
    public func secretsFile() throws(ConfigurationError) -> [String: String] {
        guard let file = environment[Self.secretsFileVariable], !file.isEmpty else { return [:] }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ConfigurationError("cannot read the secrets file \(file) (\(Self.secretsFileVariable))")
        }
        var secrets: [String: String] = [:]
        var lines: [String: Int] = [:]
        for (offset, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let place = "the secrets file \(file) (\(Self.secretsFileVariable)), line \(offset + 1)"
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else { throw ConfigurationError("\(place): expected NAME=value (no '=')") }
            let name = line[..<eq].trimmingCharacters(in: .whitespaces)
            guard name.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil else {
                throw ConfigurationError("\(place): the name before '=' must be a variable name (letters, digits, _)")
            }
            if let first = lines[name] { throw ConfigurationError("\(place): \(name) is set again (first on line \(first))") }
            lines[name] = offset + 1
            secrets[name] = String(line[line.index(after: eq)...])
        }
        return secrets
    }

    /// A warning when the secrets file may be read by its group or by
    /// others (it should be mode 600 or 400), else nil.
    public func secretsFilePermissionWarning() -> String? {
        guard let file = environment[Self.secretsFileVariable], !file.isEmpty,
              let mode = (try? FileManager.default.attributesOfItem(atPath: file))?[.posixPermissions] as? Int,
              mode & 0o044 != 0 else { return nil }
        return "warning: the secrets file \(file) may be read by its group or by others (mode \(String(mode, radix: 8))): chmod 600 \(file)"
    }

    /// The value of `name` from the environment, `NAME_FILE` or the secrets
    /// file, in that order; nil when none sets it (empty values count as unset).
    public func value(_ name: String) throws(ConfigurationError) -> String? {
        if let value = environment[name], !value.isEmpty { return value }
        if let value = try fromFiles(name) { return value }
        return nil
    }

    /// The value of `name` from `NAME_FILE` or the secrets file only.
    public func fromFiles(_ name: String) throws(ConfigurationError) -> String? {
        if let path = environment[name + "_FILE"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError("cannot read \(path) (\(name)_FILE)")
            }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { throw ConfigurationError("\(path) (\(name)_FILE) is empty") }
            return value
        }
        if let value = try secretsFile()[name], !value.isEmpty { return value }
        return nil
    }
}
