//! IP geolocation from a MaxMind-format database (GeoLite2/GeoIP2 Country or City, or the CC0
//! `@ip-location-db/geo-whois-asn-country-mmdb`), read once into memory.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use identity::ports::{GeoLocator, Location};
use maxminddb::Reader;
use serde::Deserialize;

/// The fields of either record shape: GeoIP2 (`country.iso_code`, `city.names.en`) or
/// ip-location-db (`country_code`).
#[derive(Deserialize)]
struct Record {
    country: Option<Country>,
    country_code: Option<String>,
    city: Option<City>,
}

#[derive(Deserialize)]
struct Country {
    iso_code: Option<String>,
}

#[derive(Deserialize)]
struct City {
    names: Option<BTreeMap<String, String>>,
}

pub struct MaxMindLocator {
    reader: Reader<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read the GeoIP database {path}: {reason}")]
pub struct GeoError {
    pub path: String,
    pub reason: String,
}

impl MaxMindLocator {
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        Reader::open_readfile(path)
            .map(|reader| Self { reader })
            .map_err(|e| GeoError {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
    }
}

impl GeoLocator for MaxMindLocator {
    fn locate(&self, ip: IpAddr) -> Location {
        let record = self
            .reader
            .lookup(ip)
            .ok()
            .and_then(|found| found.decode::<Record>().ok().flatten());
        let Some(record) = record else {
            return Location::default();
        };
        Location {
            country: record
                .country
                .and_then(|c| c.iso_code)
                .or(record.country_code),
            city: record
                .city
                .and_then(|c| c.names)
                .and_then(|mut names| names.remove("en")),
        }
    }
}

/// No database configured: every address is an unknown location.
pub struct UnknownLocations;

impl GeoLocator for UnknownLocations {
    fn locate(&self, _ip: IpAddr) -> Location {
        Location::default()
    }
}

#[cfg(test)]
mod tests {
    use maxminddb_writer::Database;
    use maxminddb_writer::paths::IpAddrWithMask;

    use super::*;

    #[derive(serde::Serialize)]
    struct GeoIp2 {
        country: GeoIp2Country,
        city: GeoIp2City,
    }
    #[derive(serde::Serialize)]
    struct GeoIp2Country {
        iso_code: &'static str,
    }
    #[derive(serde::Serialize)]
    struct GeoIp2City {
        names: BTreeMap<&'static str, &'static str>,
    }
    #[derive(serde::Serialize)]
    struct Whois {
        country_code: &'static str,
    }

    #[test]
    fn reads_both_record_shapes_and_misses_gracefully() -> Result<(), Box<dyn std::error::Error>> {
        let mut db = Database::default();
        db.metadata.binary_format_major_version = 2;
        db.metadata.database_type = "Test-Country".into();
        let sydney = db.insert_value(GeoIp2 {
            country: GeoIp2Country { iso_code: "AU" },
            city: GeoIp2City {
                names: BTreeMap::from([("en", "Sydney")]),
            },
        })?;
        let us = db.insert_value(Whois { country_code: "US" })?;
        db.insert_node("203.0.113.0/24".parse::<IpAddrWithMask>()?, sydney);
        db.insert_node("198.51.100.0/24".parse::<IpAddrWithMask>()?, us);
        let path = std::env::temp_dir().join(format!("geo-test-{}.mmdb", std::process::id()));
        let mut file = std::fs::File::create(&path)?;
        db.write_to(&mut file)?;
        drop(file);
        let locator = MaxMindLocator::open(&path)?;
        std::fs::remove_file(&path)?;

        let au = locator.locate("203.0.113.7".parse()?);
        assert_eq!(
            (au.country.as_deref(), au.city.as_deref()),
            (Some("AU"), Some("Sydney"))
        );
        assert_eq!(
            locator.locate("198.51.100.1".parse()?).country.as_deref(),
            Some("US")
        );
        assert_eq!(locator.locate("192.0.2.1".parse()?), Location::default());
        assert!(MaxMindLocator::open(Path::new("/nonexistent.mmdb")).is_err());
        Ok(())
    }
}
