public import Foundation
internal import Yams

/// One processor's settings, from `processors/NAME.yaml`, where any key can
/// be overridden by `FUNDQ_<NAME>_<KEY>` (upper snake case, nested keys
/// joined by `_`: `FUNDQ_ACME_ENDPOINT`, `FUNDQ_ACME_TIMEOUTS_TOTAL_SECONDS`).
/// Credentials are never in the file: it names the environment variables
/// that hold them, and their values come from the environment or from the
/// secrets file named by `FUNDQ_SECRETS_FILE` (`NAME=value` lines).
public struct ProcessorConfiguration: Sendable {
    /// The processor's name.
    public var name: String
    /// Where the file was read from.
    public var source: String
    /// The API endpoint.
    public var endpoint: String
    /// Logical credential name → environment variable name.
    public var credentialVariables: [String: String]
    /// Connection timeout.
    public var connectTimeout: Duration
    /// Whole-request timeout.
    public var totalTimeout: Duration
    /// Attempts per call for transport failures of read-only calls.
    public var retryAttempts: Int
    /// Pause between attempts.
    public var retryBackoff: Duration
    /// Requests per second the processor allows us.
    public var rateLimitPerSecond: Double
    /// Requests in flight at once.
    public var concurrency: Int
    /// Largest accepted answer.
    public var maximumResponseBytes: Int
    /// Rectifier: rows younger than this are left alone.
    public var minimumAge: Duration
    /// Rectifier: rows older than this are not looked at.
    public var maximumAge: Duration
    /// Rectifier: delays before each further attempt.
    public var attemptSchedule: [Duration]
    /// Processor-specific settings (merchant id, API version, …).
    public var settings: [String: String]
    /// The proxy for this processor's calls (`proxy:`); nil: none, whatever
    /// the environment's `http_proxy`/`HTTPS_PROXY`/`ALL_PROXY` say.
    public var proxy: String? = nil
    /// Every setting's effective value and where it came from ("x.yaml",
    /// "FUNDQ_X_KEY (overriding x.yaml)" or "default"), by key.
    public var effective: [String: (value: String, source: String)] = [:]

    /// The HTTP limits these settings imply.
    public var httpConfiguration: HTTPClientConfiguration {
        HTTPClientConfiguration(connectTimeout: connectTimeout, totalTimeout: totalTimeout, maximumResponseBytes: maximumResponseBytes,
                                proxy: proxy)
    }

    /// The longest one row can take at this processor: up to three calls
    /// (status, finish, status again), each with its attempts, timeouts and
    /// back-off, at the configured rate. A rectifier's claim must outlast it,
    /// or another rectifier could take the row mid-capture.
    public var longestRow: Duration {
        .milliseconds(Int64((Double(retryAttempts) * (totalTimeout.seconds + retryBackoff.seconds) * 3 + 3 / rateLimitPerSecond) * 1000))
    }

    /// Reads `directory/NAME.yaml` and applies the environment's overrides.
    public static func load(name: String, directory: String,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessorConfiguration {
        let path = (directory as NSString).appendingPathComponent("\(name).yaml")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError("cannot read \(path): every registered processor needs its configuration file "
                + "(see docs/adding-a-processor.md)")
        }
        // The other processors' files: FUNDQ_ACME_RECURRING_… belongs to acme-recurring, not to acme.
        let others = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.filter { $0 != name }
        return try parse(text, name: name, source: path, otherProcessors: others, environment: environment)
    }

    /// The prefix of processor `name`'s override variables: `FUNDQ_ACME_RECURRING_`.
    static func variablePrefix(_ name: String) -> String {
        "FUNDQ_" + name.uppercased().replacingOccurrences(of: "-", with: "_") + "_"
    }

    /// Parses YAML `text` for processor `name`. Unknown or duplicate keys, and
    /// `FUNDQ_<NAME>_…` variables that override no key, are errors naming them.
    public static func parse(_ text: String, name: String, source: String, otherProcessors: [String] = [],
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessorConfiguration {
        var flat = try flatten(yaml: text, source: source)
        let prefix = variablePrefix(name)
        var overridden: Set<String> = []
        var variables: [String: String] = [:]
        for key in Set(flat.keys).union(knownKeys) {
            let variable = prefix + key.uppercased().replacingOccurrences(of: ".", with: "_")
            variables[variable] = key
            if let value = environment[variable] {
                flat[key] = value
                overridden.insert(key)
            }
        }
        let credentials = try credentialVariables(flat, source: source)
        try checkOverrides(environment, prefix: prefix, known: variables, credentials: Set(credentials.values),
                           others: otherProcessors.map(variablePrefix), name: name, source: source)
        let reader = Reader(flat: flat, source: source, overridden: overridden, prefix: prefix)
        var configuration = ProcessorConfiguration(
            name: name, source: source, endpoint: try reader.string("endpoint"), credentialVariables: credentials,
            connectTimeout: .milliseconds(Int64(try reader.number("timeouts.connect_seconds", default: 5, range: 0.01...120) * 1000)),
            totalTimeout: .milliseconds(Int64(try reader.number("timeouts.total_seconds", default: 30, range: 0.01...600) * 1000)),
            retryAttempts: try reader.integer("retry.attempts", default: 2, range: 1...10),
            retryBackoff: .milliseconds(Int64(try reader.number("retry.backoff_seconds", default: 1, range: 0...60) * 1000)),
            rateLimitPerSecond: try reader.number("rate_limit_per_second", default: 10, range: 0.01...10_000),
            concurrency: try reader.integer("concurrency", default: 4, range: 1...256),
            maximumResponseBytes: try reader.integer("maximum_response_bytes", default: 1_048_576, range: 1024...67_108_864),
            minimumAge: .seconds(Int64(try reader.number("rectifier.minimum_age_minutes", default: 20, range: 0...100_000) * 60)),
            maximumAge: .seconds(Int64(try reader.number("rectifier.maximum_age_days", default: 30, range: 0.001...3650) * 86_400)),
            attemptSchedule: try reader.numbers("rectifier.attempt_schedule_minutes", default: [20, 60, 240, 1440])
                .map { .seconds(Int64($0 * 60)) },
            settings: flat.filter { $0.key.hasPrefix("settings.") }.reduce(into: [:]) { $0[String($1.key.dropFirst(9))] = $1.value },
            proxy: try reader.proxy())
        for (key, value) in flat { reader.record(key, value) }
        configuration.effective = reader.recorded
        return configuration
    }

    /// Logical credential name → the variable holding it.
    static func credentialVariables(_ flat: [String: String], source: String) throws -> [String: String] {
        var variables: [String: String] = [:]
        for (key, variable) in flat where key.hasPrefix("credentials.") {
            let logical = String(key.dropFirst("credentials.".count))
            guard variable.range(of: "^[A-Z][A-Z0-9_]*$", options: .regularExpression) != nil else {
                throw ConfigurationError(
                    "\(source): credentials.\(logical) must name an environment variable (UPPER_SNAKE_CASE), not hold the secret itself")
            }
            variables[logical] = variable
        }
        return variables
    }

    /// A `FUNDQ_<NAME>_…` variable must override a key, hold a credential (or
    /// name its file), or belong to another processor with a longer name.
    static func checkOverrides(_ environment: [String: String], prefix: String, known: [String: String], credentials: Set<String>,
                               others: [String], name: String, source: String) throws {
        for variable in environment.keys.sorted() where variable.hasPrefix(prefix) && known[variable] == nil {
            let holder = variable.hasSuffix("_FILE") ? String(variable.dropLast(5)) : variable
            if credentials.contains(holder) { continue }
            if others.contains(where: { $0.count > prefix.count && variable.hasPrefix($0) }) { continue }
            throw ConfigurationError("\(variable) overrides no setting of processor \(name) (\(source))"
                + Spelling.suggestion(for: variable, among: known.keys))
        }
    }

    /// The file as `a.b` keys → scalar text (lists joined by commas); a
    /// duplicate or unknown key is an error naming it and its line.
    static func flatten(yaml text: String, source: String) throws -> [String: String] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError("\(source) is not valid YAML: \(error)")
        }
        guard case .mapping(let mapping)? = root else { throw ConfigurationError("\(source) must be a YAML mapping") }
        var flat: [String: String] = [:]
        try flatten(mapping, prefix: "", source: source, into: &flat)
        return flat
    }

    static func flatten(_ mapping: Node.Mapping, prefix: String, source: String, into flat: inout [String: String]) throws {
        var seen: Set<String> = []
        for (keyNode, value) in mapping {
            let name = keyNode.string ?? "\(keyNode)"
            let key = prefix.isEmpty ? name : "\(prefix).\(name)"
            let line = keyNode.mark.map { " (line \($0.line))" } ?? ""
            guard seen.insert(name).inserted else { throw ConfigurationError("\(source): key \(key) appears twice\(line)") }
            let isSection = key == "credentials" || key == "settings" || knownKeys.contains { $0.hasPrefix(key + ".") }
            if case .mapping(let inner) = value, isSection {
                try flatten(inner, prefix: key, source: source, into: &flat)
                continue
            }
            guard knownKeys.contains(key) || key.hasPrefix("credentials.") || key.hasPrefix("settings.") else {
                let known = knownKeys.union(["credentials.NAME", "settings.NAME"])
                throw ConfigurationError("\(source): unknown key \(key)\(line)" + Spelling.suggestion(for: key, among: knownKeys)
                    + "; known: \(known.sorted().joined(separator: ", "))")
            }
            switch value {
            case .sequence(let items): flat[key] = items.map { $0.string ?? "\($0)" }.joined(separator: ",")
            case .scalar: flat[key] = value.null != nil ? "" : value.string ?? ""
            case .mapping: throw ConfigurationError("\(source): \(key)\(line) must be a value, not a mapping")
            }
        }
    }

    static let knownKeys: Set<String> = [
        "endpoint", "timeouts.connect_seconds", "timeouts.total_seconds", "retry.attempts", "retry.backoff_seconds",
        "rate_limit_per_second", "concurrency", "maximum_response_bytes", "rectifier.minimum_age_minutes",
        "rectifier.maximum_age_days", "rectifier.attempt_schedule_minutes", "proxy",
    ]

    /// Reads typed values, saying for each which key and where; records
    /// every value read with its source.
    final class Reader {
        let flat: [String: String]
        let source: String
        let overridden: Set<String>
        let prefix: String
        private(set) var recorded: [String: (value: String, source: String)] = [:]

        init(flat: [String: String], source: String, overridden: Set<String>, prefix: String) {
            self.flat = flat
            self.source = source
            self.overridden = overridden
            self.prefix = prefix
        }

        func variable(_ key: String) -> String { prefix + key.uppercased().replacingOccurrences(of: ".", with: "_") }

        func origin(_ key: String) -> String {
            overridden.contains(key) ? "\(variable(key)) (overriding \(source))" : "\(source): \(key)"
        }

        /// Notes `key`'s effective value (a default when the file and the environment have none).
        func record(_ key: String, _ value: String) {
            guard recorded[key] == nil else { return }
            let from = flat[key] == nil ? "default" : overridden.contains(key) ? "\(variable(key)) (overriding \(source))" : source
            recorded[key] = (value, from)
        }

        func string(_ key: String) throws -> String {
            guard let value = flat[key], !value.isEmpty else { throw ConfigurationError("\(source): \(key) is required") }
            return value
        }

        func number(_ key: String, default fallback: Double, range: ClosedRange<Double>) throws -> Double {
            guard let text = flat[key] else { record(key, Self.text(fallback)); return fallback }
            guard let value = Double(text), range.contains(value) else {
                throw ConfigurationError("\(origin(key)) must be a number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
            }
            return value
        }

        func integer(_ key: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
            guard let text = flat[key] else { record(key, String(fallback)); return fallback }
            guard let value = Int(text), range.contains(value) else {
                let bounds = "\(range.lowerBound) to \(range.upperBound)"
                throw ConfigurationError("\(origin(key)) must be a whole number from \(bounds), not '\(text)'")
            }
            return value
        }

        func proxy() throws -> String? {
            guard let text = flat["proxy"], !text.isEmpty else { record("proxy", "(none)"); return nil }
            do { try HTTPClientConfiguration.checkProxy(text) } catch { throw ConfigurationError("\(origin("proxy")): \(error)") }
            return text
        }

        func numbers(_ key: String, default fallback: [Double]) throws -> [Double] {
            guard let text = flat[key] else { record(key, fallback.map(Self.text).joined(separator: ",")); return fallback }
            let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ ($0 ?? -1) >= 0 }) else {
                throw ConfigurationError("\(origin(key)) must be a list of non-negative numbers, not '\(text)'")
            }
            return values.map { $0! }
        }

        static func text(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(value)
        }
    }
}

/// Credential values, resolved from the environment, a `VARIABLE_FILE`
/// file or the secrets file (``SecretSettings``).
/// Its description never shows a value.
public struct Credentials: Sendable, CustomStringConvertible {
    private let values: [String: String]

    /// Resolves every variable `configuration` names; throws naming the
    /// first one that is set nowhere.
    public init(for configuration: ProcessorConfiguration,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let settings = SecretSettings(environment: environment)
        var values: [String: String] = [:]
        for (logical, variable) in configuration.credentialVariables {
            guard let value = try settings.value(variable) else {
                throw ConfigurationError("\(configuration.name): credential '\(logical)' comes from \(variable), "
                    + "which is set neither in the environment nor in the secrets file (nor in a \(variable)_FILE)")
            }
            values[logical] = value
        }
        self.values = values
    }

    /// The value of logical credential `name` ("" when the file names none).
    public subscript(_ name: String) -> String { values[name] ?? "" }

    /// The values to mask wherever a request or answer is shown.
    public var secrets: [String] { values.values.filter { $0.count >= 3 } }

    /// Masks these values (and URL credentials) in any text.
    public var masker: SecretMasker { SecretMasker(secrets: secrets) }

    /// "credentials: user, password, signature (values hidden)".
    public var description: String { "credentials: \(values.keys.sorted().joined(separator: ", ")) (values hidden)" }
}
