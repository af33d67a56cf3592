/// Donor personal data, which never reaches a log and is masked in command
/// output unless an operator asks for it.
public enum PersonalData {
    /// Message fields that identify or locate a donor.
    public static let fields: Set<String> = [
        "email", "first_name", "last_name", "street_address", "supplemental_address_1", "city", "state_province",
        "postal_code", "phone", "user_ip", "payer_email", "address_street", "address_city", "address_zip",
    ]

    /// `members` with every personal field's value replaced by "***".
    public static func redacted(_ members: [String: JSONValue]) -> [String: JSONValue] {
        var out = members
        for key in members.keys where fields.contains(key) {
            out[key] = .string("***")
        }
        return out
    }
}
