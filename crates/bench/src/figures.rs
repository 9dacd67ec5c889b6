//! The numbers each run produced, and their medians across runs.

use std::collections::BTreeMap;

/// One run's figures, by name (`auth`, `db-write`, `read-p99-half`, …).
#[derive(Clone, Debug, Default)]
pub struct RunFigures {
    values: BTreeMap<String, f64>,
    /// Failed requests per workload (a workload with errors is reported, not trusted).
    pub errors: BTreeMap<String, (u64, String)>,
}

impl RunFigures {
    pub fn set(&mut self, name: impl Into<String>, value: f64) {
        self.values.insert(name.into(), value);
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }
}

/// A figure over several runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// Every run's figures together.
#[derive(Debug, Default)]
pub struct Runs(pub Vec<RunFigures>);

impl Runs {
    /// Median, min and max of `name` over the runs that measured it.
    #[must_use]
    pub fn spread(&self, name: &str) -> Option<Spread> {
        let mut values: Vec<f64> = self.0.iter().filter_map(|run| run.get(name)).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        let median = if values.len().is_multiple_of(2) {
            (values[middle - 1] + values[middle]) / 2.0
        } else {
            values[middle]
        };
        Some(Spread {
            median,
            min: values[0],
            max: values[values.len() - 1],
        })
    }

    pub fn median(&self, name: &str) -> Option<f64> {
        self.spread(name).map(|s| s.median)
    }

    /// Every workload that had failed requests in any run, with the count and a first error.
    #[must_use]
    pub fn errors(&self) -> BTreeMap<String, (u64, String)> {
        let mut all: BTreeMap<String, (u64, String)> = BTreeMap::new();
        for run in &self.0 {
            for (name, (count, first)) in &run.errors {
                let entry = all.entry(name.clone()).or_insert((0, first.clone()));
                entry.0 += count;
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(values: &[f64]) -> Runs {
        Runs(
            values
                .iter()
                .map(|v| {
                    let mut run = RunFigures::default();
                    run.set("x", *v);
                    run
                })
                .collect(),
        )
    }

    #[test]
    fn the_median_is_the_middle_run_or_the_mean_of_the_two_middle_ones() {
        let three = runs(&[5.0, 1.0, 3.0]).spread("x");
        assert_eq!(
            three,
            Some(Spread {
                median: 3.0,
                min: 1.0,
                max: 5.0
            })
        );
        assert_eq!(runs(&[4.0, 1.0, 3.0, 2.0]).median("x"), Some(2.5));
        assert_eq!(runs(&[]).median("x"), None);
    }
}
