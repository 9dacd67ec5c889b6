//! CSV records from bytes as they arrive (RFC 4180 via `csv-core`), each with the line it
//! starts on, so a report can name the file's own line numbers.

use csv_core::{ReadRecordResult, Reader};

/// One record: its fields (raw bytes, quotes removed) and where it starts.
pub struct Record<'a> {
    /// The 1-based line of the file the record starts on.
    pub line: u64,
    /// False when the record's quotes do not pair up (an unclosed or stray `"`).
    pub quotes_balanced: bool,
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Record<'a> {
    #[must_use]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn fields(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let bytes = self.bytes;
        self.ends.iter().scan(0, move |start, &end| {
            let field = bytes.get(*start..end).unwrap_or_default();
            *start = end;
            Some(field)
        })
    }

    /// A line with nothing on it.
    #[must_use]
    pub fn is_blank(&self) -> bool {
        self.ends.len() <= 1 && self.bytes.is_empty()
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the row starting on line {line} is longer than {limit} bytes (an unclosed quote?)")]
pub struct RecordTooLong {
    pub line: u64,
    pub limit: usize,
}

/// How many first bytes are held back before `csv-core` sees any: more than a BOM, so that its
/// first slice holds the whole BOM if there is one *and* something after it (a slice that the
/// BOM's removal leaves empty reads as the end of the input, losing the rest of the file).
const HEAD_LEN: usize = 4;

/// A push parser: [`CsvRows::feed`] takes chunks in order, [`CsvRows::finish`] ends the input.
pub struct CsvRows {
    reader: Reader,
    output: Vec<u8>,
    output_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// The line the next input byte is on.
    line: u64,
    /// Where the current record starts, once a byte of it (not a line break) has been seen.
    record_line: Option<u64>,
    quotes: usize,
    max_record_bytes: usize,
    ended: bool,
    /// The first bytes of the input, held until there are [`HEAD_LEN`]: `csv-core` drops a
    /// UTF-8 BOM only when the whole of it is in the first slice it is given, so a body whose
    /// first chunk is one or two bytes would otherwise keep its BOM (and parse differently).
    head: Option<Vec<u8>>,
}

impl CsvRows {
    #[must_use]
    pub fn new(max_record_bytes: usize) -> Self {
        Self {
            reader: Reader::new(),
            output: vec![0; 4096],
            output_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            line: 1,
            record_line: None,
            quotes: 0,
            max_record_bytes,
            ended: false,
            head: Some(Vec::with_capacity(HEAD_LEN)),
        }
    }

    /// Parses `chunk`, calling `on_record` for each record it completes.
    pub fn feed<E: From<RecordTooLong>>(
        &mut self,
        chunk: &[u8],
        on_record: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(head) = &mut self.head {
            head.extend_from_slice(chunk);
            if head.len() < HEAD_LEN {
                return Ok(());
            }
            let head = std::mem::take(head);
            self.head = None;
            return self.run(&head, on_record);
        }
        self.run(chunk, on_record)
    }

    /// Ends the input: the last record, if it had no line break, is completed.
    pub fn finish<E: From<RecordTooLong>>(
        &mut self,
        on_record: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(head) = self.head.take()
            && !head.is_empty()
        {
            self.run(&head, on_record)?;
        }
        while !self.ended {
            self.run(&[], on_record)?;
        }
        Ok(())
    }

    fn run<E: From<RecordTooLong>>(
        &mut self,
        mut input: &[u8],
        on_record: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let at_end = input.is_empty();
        loop {
            // An empty input tells the reader the data has ended: only `finish` may say so.
            if input.is_empty() && !at_end {
                return Ok(());
            }
            let (result, read, written, ended_fields) = self.reader.read_record(
                input,
                &mut self.output[self.output_len..],
                &mut self.ends[self.ends_len..],
            );
            self.account(&input[..read]);
            input = &input[read..];
            self.output_len += written;
            self.ends_len += ended_fields;
            match result {
                ReadRecordResult::InputEmpty => {
                    self.ended |= at_end;
                    return Ok(());
                }
                ReadRecordResult::OutputFull => {
                    if self.output.len() >= self.max_record_bytes {
                        return Err(RecordTooLong {
                            line: self.record_line.unwrap_or(self.line),
                            limit: self.max_record_bytes,
                        }
                        .into());
                    }
                    let grown = (self.output.len() * 2).min(self.max_record_bytes);
                    self.output.resize(grown, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let grown = self.ends.len() * 2;
                    self.ends.resize(grown, 0);
                }
                ReadRecordResult::Record => {
                    let record = Record {
                        line: self.record_line.unwrap_or(self.line),
                        quotes_balanced: self.quotes.is_multiple_of(2),
                        bytes: &self.output[..self.output_len],
                        ends: &self.ends[..self.ends_len],
                    };
                    let outcome = on_record(&record);
                    self.output_len = 0;
                    self.ends_len = 0;
                    self.record_line = None;
                    self.quotes = 0;
                    outcome?;
                    if at_end {
                        // One record per call at the end; the loop in `finish` asks again.
                        return Ok(());
                    }
                }
                ReadRecordResult::End => {
                    self.ended = true;
                    return Ok(());
                }
            }
        }
    }

    /// Keeps line numbers and the quote count in step with the bytes the reader consumed.
    fn account(&mut self, consumed: &[u8]) {
        for &byte in consumed {
            match byte {
                b'\n' => {
                    self.line += 1;
                    continue;
                }
                b'\r' => continue,
                b'"' => self.quotes += 1,
                _ => {}
            }
            if self.record_line.is_none() {
                self.record_line = Some(self.line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Row {
        line: u64,
        balanced: bool,
        fields: Vec<String>,
    }

    impl From<RecordTooLong> for String {
        fn from(e: RecordTooLong) -> Self {
            e.to_string()
        }
    }

    fn parse_in_chunks(data: &[u8], chunk: usize) -> Result<Vec<Row>, String> {
        let mut rows = Vec::new();
        let mut parser = CsvRows::new(1024);
        let mut collect = |r: &Record<'_>| -> Result<(), String> {
            if !r.is_blank() {
                rows.push(Row {
                    line: r.line,
                    balanced: r.quotes_balanced,
                    fields: r
                        .fields()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect(),
                });
            }
            Ok(())
        };
        for piece in data.chunks(chunk) {
            parser.feed(piece, &mut collect)?;
        }
        parser.finish(&mut collect)?;
        Ok(rows)
    }

    const FILE: &[u8] =
        b"email,first_name\r\na@x.io,Ada\n\n\"b@x.io\",\"multi\nline, \"\"quoted\"\"\"\nc@x.io,Cy";

    #[test]
    fn records_keep_their_starting_lines_whatever_the_chunking() {
        let expected = parse_in_chunks(FILE, FILE.len()).unwrap_or_default();
        assert_eq!(
            expected
                .iter()
                .map(|r| (r.line, r.fields.len()))
                .collect::<Vec<_>>(),
            vec![(1, 2), (2, 2), (4, 2), (6, 2)]
        );
        assert_eq!(expected[2].fields[1], "multi\nline, \"quoted\"");
        assert_eq!(expected[3].fields, vec!["c@x.io", "Cy"]);
        for chunk in [1, 2, 3, 7, 64] {
            assert_eq!(
                parse_in_chunks(FILE, chunk),
                Ok(expected.clone_rows()),
                "{chunk}"
            );
        }
    }

    trait CloneRows {
        fn clone_rows(&self) -> Vec<Row>;
    }
    impl CloneRows for Vec<Row> {
        fn clone_rows(&self) -> Vec<Row> {
            self.iter()
                .map(|r| Row {
                    line: r.line,
                    balanced: r.balanced,
                    fields: r.fields.clone(),
                })
                .collect()
        }
    }

    #[test]
    fn unbalanced_quotes_are_flagged_on_their_row() {
        let rows = parse_in_chunks(b"a,b\nx,y\"z\n1,2\n", 5).unwrap_or_default();
        assert_eq!(
            rows.iter().map(|r| r.balanced).collect::<Vec<_>>(),
            vec![true, false, true]
        );
        let unclosed = parse_in_chunks(b"a,b\n1,2\n\"3,4\n", 5).unwrap_or_default();
        assert_eq!(
            unclosed.last().map(|r| (r.line, r.balanced)),
            Some((3, false))
        );
    }

    #[test]
    fn a_bom_split_across_chunks_is_still_dropped() {
        // Found by the property tests: a quoted header after a BOM whose bytes arrive apart.
        let data = b"\xef\xbb\xbf\"email\",name\na@x.io,Ada\n";
        let whole = parse_in_chunks(data, data.len()).unwrap_or_default();
        assert_eq!(whole[0].fields, vec!["email", "name"]);
        for chunk in [1, 2] {
            assert_eq!(
                parse_in_chunks(data, chunk),
                Ok(whole.clone_rows()),
                "{chunk}"
            );
        }
        // A file that is only a BOM has no records, however it arrives.
        for chunk in [1, 2, 3] {
            assert_eq!(
                parse_in_chunks(b"\xef\xbb\xbf", chunk),
                Ok(vec![]),
                "{chunk}"
            );
        }
    }

    #[test]
    fn a_runaway_row_is_refused_with_its_line() {
        let mut data = b"a,b\n1,2\n\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5000));
        let error = parse_in_chunks(&data, 100).err().unwrap_or_default();
        assert!(error.contains("line 3"), "{error}");
    }
}
