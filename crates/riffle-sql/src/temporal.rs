//! Flink's temporal joins: `JOIN t FOR SYSTEM_TIME AS OF o.time AS r ON ...`. The clause is
//! not SQL that DataFusion parses, so it is cut out of the text (as window TVFs are replaced)
//! and remembered by table; the streaming planner turns a join whose right side reads such a
//! table into a temporal join (see `stream/mod.rs`, `Temporal`).

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Location, Token};
use riffle_core::Result;

use crate::script::sql_error;

/// A table read `FOR SYSTEM_TIME AS OF` a time of the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporalRead {
    /// The table.
    pub table: String,
    /// The time expression's text (`o.order_time`, `PROCTIME()`).
    pub time: String,
}

/// `text` with every `FOR SYSTEM_TIME AS OF expr` after a table name blanked out (lines and
/// columns kept), and the tables read that way.
pub fn rewrite(text: &str) -> Result<(String, Vec<TemporalRead>)> {
    let tokens = crate::script::significant_tokens(text)?;
    let word = |i: usize| match tokens.get(i).map(|t| &t.token) {
        Some(Token::Word(w)) => Some(w.clone()),
        _ => None,
    };
    let mut reads = Vec::new();
    let mut cuts: Vec<(Location, Location)> = Vec::new();
    let mut i = 1;
    while i + 4 < tokens.len() {
        let clause = word(i).is_some_and(|w| w.keyword == Keyword::FOR)
            && word(i + 1).is_some_and(|w| w.value.eq_ignore_ascii_case("SYSTEM_TIME"))
            && word(i + 2).is_some_and(|w| w.keyword == Keyword::AS)
            && word(i + 3).is_some_and(|w| w.keyword == Keyword::OF);
        let Some(table) = word(i - 1).filter(|_| clause) else {
            i += 1;
            continue;
        };
        // The time: `name(.name)*`, or a call without arguments such as `PROCTIME()`.
        let mut end = i + 4;
        let mut time = String::new();
        loop {
            let Some(part) = word(end) else {
                return Err(sql_error(
                    text,
                    tokens[end.min(tokens.len() - 1)].span.start,
                    "FOR SYSTEM_TIME AS OF needs a time column (o.time) or PROCTIME()",
                ));
            };
            time.push_str(&part.value);
            end += 1;
            match tokens.get(end).map(|t| &t.token) {
                Some(Token::Period) => {
                    time.push('.');
                    end += 1;
                }
                Some(Token::LParen)
                    if tokens.get(end + 1).map(|t| &t.token) == Some(&Token::RParen) =>
                {
                    time.push_str("()");
                    end += 2;
                    break;
                }
                _ => break,
            }
        }
        cuts.push((tokens[i].span.start, tokens[end - 1].span.end));
        reads.push(TemporalRead {
            table: table.value,
            time,
        });
        i = end;
    }
    Ok((blank(text, &cuts), reads))
}

/// `text` with the ranges replaced by spaces (newlines kept).
fn blank(text: &str, cuts: &[(Location, Location)]) -> String {
    let (mut line, mut column) = (1u64, 1u64);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let here = (line, column);
        let cut = cuts
            .iter()
            .any(|(from, to)| (from.line, from.column) <= here && here < (to.line, to.column));
        out.push(if cut && c != '\n' { ' ' } else { c });
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clause_is_cut_out_and_remembered() {
        let sql = "SELECT * FROM orders AS o\n JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON x";
        let (text, reads) = rewrite(sql).unwrap();
        assert_eq!(
            reads,
            [TemporalRead {
                table: "rates".into(),
                time: "o.ts".into()
            }]
        );
        assert_eq!(text.len(), sql.len());
        assert!(text.contains("JOIN rates"), "{text}");
        assert!(text.ends_with("AS r ON x"), "{text}");
        assert!(!text.contains("SYSTEM_TIME"), "{text}");
        let (text, reads) =
            rewrite("SELECT 1 FROM b JOIN s FOR SYSTEM_TIME AS OF PROCTIME() ON a").unwrap();
        assert_eq!(reads[0].time, "PROCTIME()");
        assert!(text.ends_with("ON a"), "{text}");
    }
}
