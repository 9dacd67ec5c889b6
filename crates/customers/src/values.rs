//! Attribute values: what each profile field type admits, from a CSV cell or a JSON value.

use chrono::NaiveDate;
use serde_json::{Number, Value};

use crate::models::FieldKind;

/// Longest string attribute, in characters.
pub const MAX_STRING_CHARS: usize = 1000;

/// One value as it arrived: CSV cells are text, JSON values keep their JSON type.
#[derive(Clone, Copy, Debug)]
pub enum Cell<'a> {
    Text(&'a str),
    Json(&'a Value),
}

/// Checks `cell` against `kind` and returns the value to store, or why it does not fit.
///
/// From CSV text: numbers as written (`12`, `-3.5`, `1e3`), booleans as `true`/`false`,
/// `yes`/`no` or `1`/`0` (any case), dates as `YYYY-MM-DD`, enums exactly as one option.
/// From JSON the value must already have the type (a number for a number field).
pub fn typed_value(kind: &FieldKind, cell: Cell<'_>) -> Result<Value, String> {
    match cell {
        Cell::Text(text) => from_text(kind, text),
        // A string for a string field: the same rules (and messages) as CSV text.
        Cell::Json(Value::String(text)) if matches!(kind, FieldKind::String) => {
            from_text(kind, text)
        }
        Cell::Json(value) => {
            if fits(kind, value) {
                Ok(value.clone())
            } else {
                Err(expected(kind))
            }
        }
    }
}

/// Whether a stored value is one that `kind` admits (checked before a field's type changes).
#[must_use]
pub fn fits(kind: &FieldKind, value: &Value) -> bool {
    Admits::of(kind).test(value)
}

/// The JSON type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonType {
    String,
    Number,
    Boolean,
}

impl JsonType {
    /// The name `jsonb_typeof` (and JSON Schema) gives the type.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
        }
    }
}

/// What a stored attribute value must be for a field of some kind to admit it: the one home of
/// that rule. [`fits`] tests it on one value; a store tests the same predicate set-wise
/// ([`crate::ports::ProfileFieldRecords::count_misfits`]), so a type change over a million
/// customers is checked without handing them to the domain. Every condition that is set must
/// hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admits {
    pub json_type: JsonType,
    /// A string of at most this many characters.
    pub max_chars: Option<usize>,
    /// A string without control characters other than line breaks and tabs
    /// ([`kernel::text::is_multi_line`]).
    pub free_text: bool,
    /// A string that is a calendar date, `YYYY-MM-DD`.
    pub calendar_date: bool,
    /// A string equal to one of these.
    pub one_of: Option<Vec<String>>,
}

impl Admits {
    #[must_use]
    pub fn of(kind: &FieldKind) -> Self {
        let only = |json_type| Self {
            json_type,
            max_chars: None,
            free_text: false,
            calendar_date: false,
            one_of: None,
        };
        match kind {
            FieldKind::String => Self {
                max_chars: Some(MAX_STRING_CHARS),
                free_text: true,
                ..only(JsonType::String)
            },
            FieldKind::Number => only(JsonType::Number),
            FieldKind::Boolean => only(JsonType::Boolean),
            FieldKind::Date => Self {
                calendar_date: true,
                ..only(JsonType::String)
            },
            FieldKind::Enum(options) => Self {
                one_of: Some(options.clone()),
                ..only(JsonType::String)
            },
        }
    }

    /// Whether `value` satisfies every condition.
    #[must_use]
    pub fn test(&self, value: &Value) -> bool {
        let text = match (self.json_type, value) {
            (JsonType::String, Value::String(s)) => s,
            (JsonType::Number, Value::Number(_)) | (JsonType::Boolean, Value::Bool(_)) => {
                return true;
            }
            _ => return false,
        };
        self.max_chars.is_none_or(|max| text.chars().count() <= max)
            && (!self.free_text || kernel::text::is_multi_line(text))
            && (!self.calendar_date || parse_date(text).is_some())
            && self
                .one_of
                .as_ref()
                .is_none_or(|options| options.iter().any(|o| o == text))
    }
}

fn from_text(kind: &FieldKind, text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    match kind {
        FieldKind::String => {
            if text.chars().count() > MAX_STRING_CHARS {
                Err(format!("must be at most {MAX_STRING_CHARS} characters"))
            } else if !kernel::text::is_multi_line(text) {
                Err("must not contain control characters other than line breaks and tabs".into())
            } else {
                Ok(Value::String(text.to_owned()))
            }
        }
        FieldKind::Number => parse_number(trimmed).ok_or_else(|| expected(kind)),
        FieldKind::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(expected(kind)),
        },
        FieldKind::Date => parse_date(trimmed)
            .map(|date| Value::String(date.format("%Y-%m-%d").to_string()))
            .ok_or_else(|| expected(kind)),
        FieldKind::Enum(options) => options
            .iter()
            .find(|o| o.as_str() == trimmed)
            .map(|o| Value::String(o.clone()))
            .ok_or_else(|| expected(kind)),
    }
}

fn parse_number(text: &str) -> Option<Value> {
    if let Ok(integer) = text.parse::<i64>() {
        return Some(Value::Number(integer.into()));
    }
    let float = text.parse::<f64>().ok()?;
    // `inf` and `NaN` parse as f64 but are not numbers a JSON document can hold.
    Number::from_f64(float).map(Value::Number)
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    // `%Y` alone accepts years like `+10000`; insist on the ten-character form.
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn expected(kind: &FieldKind) -> String {
    match kind {
        FieldKind::String => "must be a string".into(),
        FieldKind::Number => "must be a number".into(),
        FieldKind::Boolean => "must be true or false".into(),
        FieldKind::Date => "must be a date (YYYY-MM-DD)".into(),
        FieldKind::Enum(options) => format!("must be one of: {}", options.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(kind: &FieldKind, raw: &str) -> Result<Value, String> {
        typed_value(kind, Cell::Text(raw))
    }

    #[test]
    fn numbers_from_text() {
        assert_eq!(text(&FieldKind::Number, " 42 "), Ok(json!(42)));
        assert_eq!(text(&FieldKind::Number, "-3.5"), Ok(json!(-3.5)));
        assert_eq!(text(&FieldKind::Number, "1e3"), Ok(json!(1000.0)));
        for bad in ["", "abc", "NaN", "inf", "1,5", "0x10"] {
            assert!(text(&FieldKind::Number, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn booleans_from_text() {
        for yes in ["true", "TRUE", "yes", "1"] {
            assert_eq!(text(&FieldKind::Boolean, yes), Ok(json!(true)));
        }
        for no in ["false", "No", "0"] {
            assert_eq!(text(&FieldKind::Boolean, no), Ok(json!(false)));
        }
        assert!(text(&FieldKind::Boolean, "maybe").is_err());
    }

    #[test]
    fn dates_from_text() {
        assert_eq!(
            text(&FieldKind::Date, "2024-02-29"),
            Ok(json!("2024-02-29"))
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "24-01-01",
            "2024/01/01",
            "+10000-01-01",
        ] {
            assert!(text(&FieldKind::Date, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_and_strings() {
        let plan = FieldKind::Enum(vec!["free".into(), "pro".into()]);
        assert_eq!(text(&plan, "pro"), Ok(json!("pro")));
        let error = text(&plan, "Pro").err().unwrap_or_default();
        assert!(error.contains("free, pro"), "{error}");
        assert_eq!(
            text(&FieldKind::String, "  kept as is "),
            Ok(json!("  kept as is "))
        );
        let long = "x".repeat(MAX_STRING_CHARS + 1);
        assert!(text(&FieldKind::String, &long).is_err());
    }

    #[test]
    fn json_values_must_have_the_type() {
        assert!(typed_value(&FieldKind::Number, Cell::Json(&json!(7))).is_ok());
        assert!(typed_value(&FieldKind::Number, Cell::Json(&json!("7"))).is_err());
        assert!(typed_value(&FieldKind::Boolean, Cell::Json(&json!("true"))).is_err());
        assert!(typed_value(&FieldKind::String, Cell::Json(&json!(1))).is_err());
        assert!(typed_value(&FieldKind::Date, Cell::Json(&json!("2024-01-31"))).is_ok());
    }

    #[test]
    fn fits_is_what_a_type_change_checks() {
        assert!(fits(&FieldKind::Date, &json!("2020-01-01")));
        assert!(!fits(&FieldKind::Date, &json!("soon")));
        assert!(fits(&FieldKind::String, &json!("2020-01-01")));
        assert!(!fits(&FieldKind::Number, &json!("1")));
        assert!(!fits(&FieldKind::Enum(vec!["a".into()]), &json!("b")));
    }
}
