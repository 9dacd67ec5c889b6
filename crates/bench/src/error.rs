//! Why a benchmark run stopped.

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the server answered {0}: {1}")]
    Status(u16, String),
    #[error("unexpected answer: {0}")]
    Answer(String),
    #[error("measuring: {0}")]
    Measure(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("process: {0}")]
    Process(String),
    #[error("database: {0}")]
    Database(String),
}

impl BenchError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |e| Self::Io(what, e)
    }
}
