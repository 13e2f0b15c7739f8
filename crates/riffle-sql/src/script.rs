//! Splitting a script into statements and parsing Flink's DDL, which `sqlparser` does not
//! know (`WATERMARK FOR`, computed columns, `PRIMARY KEY ... NOT ENFORCED`), on top of
//! `sqlparser`'s tokenizer and parser so that every error has a line and column.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::ast::{DataType as SqlType, Expr, ObjectName};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};
use riffle_core::{Result, RiffleError};

/// One statement of a script, with where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The statement.
    pub statement: Statement,
    /// Its text, as written.
    pub text: String,
    /// Line (from 1) of its first token in the script.
    pub line: u64,
}

/// What the SQL layer does with a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE TABLE` in Flink's form.
    CreateTable(Box<TableDef>),
    /// `CREATE TABLE t WITH (...) AS query`: a table with the query's columns, filled by it.
    CreateTableAs {
        /// The table (no columns: they come from the query).
        def: Box<TableDef>,
        /// The statement's text with everything before the query blanked out.
        query: String,
    },
    /// `SET 'key' = 'value'` (or `SET` alone: show the settings).
    Set(Option<(String, String)>),
    /// `SHOW TABLES`.
    ShowTables,
    /// `DESCRIBE t` / `DESC t`.
    Describe(String),
    /// `DROP TABLE [IF EXISTS] t`.
    DropTable {
        /// The table.
        name: String,
        /// No error when it does not exist.
        if_exists: bool,
    },
    /// `INSERT INTO t SELECT ...`: the query's rows go to table `t`'s sink.
    Insert {
        /// The target table.
        table: String,
        /// The statement's text with `INSERT INTO t` blanked out, so that positions in the
        /// query stay those of the statement.
        query: String,
    },
    /// `CREATE [TEMPORARY] VIEW [IF NOT EXISTS] v AS query`.
    CreateView {
        /// The view's name.
        name: String,
        /// The statement's text with everything before the query blanked out.
        query: String,
        /// No error when it exists.
        if_not_exists: bool,
    },
    /// `DROP [TEMPORARY] VIEW [IF EXISTS] v`.
    DropView {
        /// The view.
        name: String,
        /// No error when it does not exist.
        if_exists: bool,
    },
    /// `CREATE [TEMPORARY] [SYSTEM] FUNCTION [IF NOT EXISTS] f AS 'class' [LANGUAGE ...]`.
    CreateFunction {
        /// The function's name.
        name: String,
        /// The class Flink would load.
        class: String,
    },
    /// `EXPLAIN [PLAN FOR] statement`: the plans of a query or an `INSERT INTO`.
    Explain(Box<Located>),
    /// `EXECUTE STATEMENT SET BEGIN INSERT ...; INSERT ...; END` (or `BEGIN STATEMENT SET;
    /// ...; END`): the inserts run as one job.
    StatementSet(Vec<Located>),
    /// `END` of a statement set (only inside `parse_script`).
    End,
    /// `CREATE MODEL [IF NOT EXISTS] m WITH ('algorithm' = ..., 'label' = ..., ...) AS query`:
    /// trains a model on the query's rows and saves it in the model catalog.
    CreateModel {
        /// The model's name.
        name: String,
        /// The `WITH (...)` options.
        options: BTreeMap<String, String>,
        /// The statement's text with everything before the query blanked out.
        query: String,
        /// No error when it exists.
        if_not_exists: bool,
    },
    /// `SHOW MODELS`.
    ShowModels,
    /// `DESCRIBE MODEL m`.
    DescribeModel(String),
    /// `DROP MODEL [IF EXISTS] m`.
    DropModel {
        /// The model.
        name: String,
        /// No error when it does not exist.
        if_exists: bool,
    },
    /// Anything else: a query or a statement planned by DataFusion.
    Query,
}

/// A table as `CREATE TABLE` declares it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableDef {
    /// The table's name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<ColumnDef>,
    /// `WATERMARK FOR column AS expression`.
    pub watermark: Option<WatermarkDef>,
    /// `PRIMARY KEY (...) NOT ENFORCED`.
    pub primary_key: Vec<String>,
    /// `PARTITIONED BY (...)`: a filesystem sink writes rows into a directory per value.
    pub partition_by: Vec<String>,
    /// The `WITH (...)` options.
    pub options: BTreeMap<String, String>,
    /// `IF NOT EXISTS` was given.
    pub if_not_exists: bool,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// The column's name.
    pub name: String,
    /// What the column holds.
    pub kind: ColumnKind,
}

/// A physical column read from the connector, or one computed from the others.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnKind {
    /// Declared with a type.
    Physical {
        /// The SQL type.
        data_type: SqlType,
        /// `NOT NULL` was not given.
        nullable: bool,
    },
    /// `name AS expression`.
    Computed(Box<Expr>),
    /// `name TYPE METADATA [FROM 'key'] [VIRTUAL]`: read from the connector's metadata of
    /// a record (a Kafka message's partition, offset, timestamp, ...), not from its value.
    Metadata {
        /// The SQL type.
        data_type: SqlType,
        /// The metadata key (`FROM 'key'`, else the column's name).
        key: String,
        /// `VIRTUAL`: read only, left out when the table is written to.
        is_virtual: bool,
    },
}

/// `WATERMARK FOR column AS expression`.
#[derive(Debug, Clone, PartialEq)]
pub struct WatermarkDef {
    /// The rowtime column.
    pub column: String,
    /// The watermark expression.
    pub expr: Expr,
}

/// Whether `text` holds whole statements: it ends with `;` outside strings and comments (an
/// interactive shell reads lines until then).
///
/// ```
/// use riffle_sql::complete_statement;
/// assert!(complete_statement("SELECT 'a;b';"));
/// assert!(!complete_statement("SELECT ';"));
/// assert!(!complete_statement("SELECT 1 -- done;"));
/// ```
pub fn complete_statement(text: &str) -> bool {
    match Tokenizer::new(&GenericDialect {}, text).tokenize() {
        Ok(tokens) => tokens
            .iter()
            .rev()
            .find(|t| !is_blank(t))
            .is_some_and(|t| *t == Token::SemiColon),
        // An open string or comment: more lines are coming.
        Err(_) => false,
    }
}

/// Splits `script` into statements and parses each.
pub fn parse_script(script: &str) -> Result<Vec<Located>> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, script)
        .tokenize_with_location()
        .map_err(|e| {
            sql_error(
                script,
                Location::new(e.location.line, e.location.column),
                &e.message,
            )
        })?;
    let mut groups = Vec::new();
    let mut current: Vec<TokenWithSpan> = Vec::new();
    for token in tokens {
        if token.token == Token::SemiColon {
            groups.push(std::mem::take(&mut current));
        } else {
            current.push(token);
        }
    }
    groups.push(current);
    let mut statements = Vec::new();
    // An open statement set: where it began, and its inserts so far.
    let mut set: Option<(Location, Vec<Located>)> = None;
    for group in groups {
        let (group, begins) = strip_set_header(group);
        if let Some(at) = begins {
            if set.is_some() {
                return Err(sql_error(script, at, "a statement set cannot hold another"));
            }
            set = Some((at, Vec::new()));
        }
        let Some(located) = statement(script, group)? else {
            continue;
        };
        match (set.is_some(), &located.statement) {
            (true, Statement::End) => {
                let Some((at, inserts)) = set.take() else {
                    continue;
                };
                if inserts.is_empty() {
                    return Err(sql_error(
                        script,
                        at,
                        "a statement set needs an INSERT INTO",
                    ));
                }
                statements.push(Located {
                    text: inserts
                        .iter()
                        .map(|i| i.text.trim())
                        .collect::<Vec<_>>()
                        .join(";\n"),
                    line: at.line,
                    statement: Statement::StatementSet(inserts),
                });
            }
            (true, Statement::Insert { .. } | Statement::CreateModel { .. }) => {
                if let Some((_, inserts)) = set.as_mut() {
                    inserts.push(located);
                }
            }
            (true, _) => {
                return Err(RiffleError::Sql(format!(
                    "line {}: a statement set holds INSERT INTO and CREATE MODEL statements only",
                    located.line
                )))
            }
            (false, Statement::End) => {
                return Err(RiffleError::Sql(format!(
                    "line {}: END without EXECUTE STATEMENT SET BEGIN",
                    located.line
                )))
            }
            (false, _) => statements.push(located),
        }
    }
    if let Some((at, _)) = set {
        return Err(sql_error(
            script,
            at,
            "this statement set is not closed with END",
        ));
    }
    Ok(statements)
}

/// `tokens` without a leading `EXECUTE STATEMENT SET BEGIN` or `BEGIN STATEMENT SET`, and
/// where that header was.
fn strip_set_header(tokens: Vec<TokenWithSpan>) -> (Vec<TokenWithSpan>, Option<Location>) {
    let words: Vec<(usize, String)> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !is_blank(&t.token))
        .take(4)
        .map(|(i, t)| (i, t.token.to_string().to_uppercase()))
        .collect();
    let names: Vec<&str> = words.iter().map(|(_, w)| w.as_str()).collect();
    let header = if names.starts_with(&["EXECUTE", "STATEMENT", "SET", "BEGIN"]) {
        4
    } else if names.starts_with(&["BEGIN", "STATEMENT", "SET"]) {
        3
    } else {
        return (tokens, None);
    };
    let at = tokens[words[0].0].span.start;
    let rest = tokens[words[header - 1].0 + 1..].to_vec();
    (rest, Some(at))
}

fn is_blank(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

fn statement(script: &str, tokens: Vec<TokenWithSpan>) -> Result<Option<Located>> {
    let Some(first) = tokens.iter().find(|t| !is_blank(&t.token)) else {
        return Ok(None);
    };
    let line = first.span.start.line;
    let first_at = first.span.start;
    let start = tokens.iter().position(|t| !is_blank(&t.token)).unwrap_or(0);
    // The statement as written (a token's display does not escape quotes inside strings).
    let last = tokens
        .iter()
        .rev()
        .find(|t| !is_blank(&t.token))
        .map_or(first_at, |t| t.span.end);
    let text = match (offset(script, first_at), offset(script, last)) {
        (Some(from), Some(to)) if from <= to => script[from..to].trim_end().to_string(),
        _ => tokens[start..]
            .iter()
            .map(|t| t.token.to_string())
            .collect::<String>()
            .trim_end()
            .to_string(),
    };
    let words: Vec<String> = tokens
        .iter()
        .filter(|t| !is_blank(&t.token))
        .take(4)
        .map(|t| t.token.to_string().to_uppercase())
        .collect();
    let starts = |prefix: &[&str]| {
        words.len() >= prefix.len() && prefix.iter().zip(&words).all(|(a, b)| a == b)
    };
    let parser_tokens = tokens.clone();
    let mut parser = Parser::new(&GenericDialect {}).with_tokens_with_locations(tokens);
    let fail = |e: ParserError, parser: &Parser| {
        sql_error(script, parser.peek_token().span.start, &e.to_string())
    };
    let statement = if starts(&["CREATE", "TABLE"]) || starts(&["CREATE", "TEMPORARY", "TABLE"]) {
        match create_table(&mut parser).map_err(|e| fail(e, &parser))? {
            (def, None) => Statement::CreateTable(Box::new(def)),
            (def, Some(at)) => Statement::CreateTableAs {
                def: Box::new(def),
                query: blank_until(&text, first_at, at),
            },
        }
    } else if starts(&["CREATE", "MODEL"]) {
        parser.next_token();
        parser.next_token();
        let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = parser
            .parse_object_name(false)
            .map_err(|e| fail(e, &parser))?;
        let options = if parser.parse_keyword(Keyword::WITH) {
            with_options(&mut parser).map_err(|e| fail(e, &parser))?
        } else {
            BTreeMap::new()
        };
        parser
            .expect_keyword(Keyword::AS)
            .map_err(|e| fail(e, &parser))?;
        let at = parser.peek_token().span.start;
        Statement::CreateModel {
            name: object_name(&name),
            options,
            query: blank_until(&text, first_at, at),
            if_not_exists,
        }
    } else if starts(&["SHOW", "MODELS"]) {
        Statement::ShowModels
    } else if starts(&["DESCRIBE", "MODEL"]) || starts(&["DESC", "MODEL"]) {
        parser.next_token();
        parser.next_token();
        let name = parser
            .parse_object_name(false)
            .map_err(|e| fail(e, &parser))?;
        Statement::DescribeModel(object_name(&name))
    } else if starts(&["DROP", "MODEL"]) {
        parser.next_token();
        parser.next_token();
        let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = parser
            .parse_object_name(false)
            .map_err(|e| fail(e, &parser))?;
        Statement::DropModel {
            name: object_name(&name),
            if_exists,
        }
    } else if starts(&["SET"]) {
        Statement::Set(set(&mut parser).map_err(|e| fail(e, &parser))?)
    } else if starts(&["SHOW", "TABLES"]) {
        Statement::ShowTables
    } else if starts(&["DESCRIBE"]) || starts(&["DESC"]) {
        parser.next_token();
        let name = parser
            .parse_object_name(false)
            .map_err(|e| fail(e, &parser))?;
        Statement::Describe(object_name(&name))
    } else if starts(&["DROP", "TABLE"]) {
        parser.next_token();
        parser.next_token();
        let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = parser
            .parse_object_name(false)
            .map_err(|e| fail(e, &parser))?;
        Statement::DropTable {
            name: object_name(&name),
            if_exists,
        }
    } else if words.len() == 1 && starts(&["END"]) {
        Statement::End
    } else if starts(&["CREATE", "VIEW"])
        || starts(&["CREATE", "TEMPORARY", "VIEW"])
        || starts(&["CREATE", "OR", "REPLACE"])
    {
        parser.next_token();
        if parser.parse_keywords(&[Keyword::OR, Keyword::REPLACE]) {
            let next = parser.peek_token();
            return Err(sql_error(
                script,
                next.span.start,
                "CREATE OR REPLACE is not supported: DROP the view first",
            ));
        }
        let _temporary = parser.parse_keyword(Keyword::TEMPORARY);
        parser
            .expect_keyword(Keyword::VIEW)
            .map_err(|e| fail(e, &parser))?;
        let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = parser
            .parse_object_name(false)
            .map_err(|e| fail(e, &parser))?;
        parser
            .expect_keyword(Keyword::AS)
            .map_err(|e| fail(e, &parser))?;
        let at = parser.peek_token().span.start;
        Statement::CreateView {
            name: object_name(&name),
            query: blank_until(&text, first_at, at),
            if_not_exists,
        }
    } else if starts(&["DROP", "VIEW"]) || starts(&["DROP", "TEMPORARY", "VIEW"]) {
        parser.next_token();
        let _temporary = parser.parse_keyword(Keyword::TEMPORARY);
        parser.next_token();
        let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = parser
            .parse_object_name(false)
            .map_err(|e| fail(e, &parser))?;
        Statement::DropView {
            name: object_name(&name),
            if_exists,
        }
    } else if starts(&["CREATE", "FUNCTION"])
        || starts(&["CREATE", "TEMPORARY", "FUNCTION"])
        || starts(&["CREATE", "TEMPORARY", "SYSTEM", "FUNCTION"])
    {
        parser.next_token();
        let _temporary = parser.parse_keyword(Keyword::TEMPORARY);
        let _system = parser.parse_keyword(Keyword::SYSTEM);
        parser
            .expect_keyword(Keyword::FUNCTION)
            .map_err(|e| fail(e, &parser))?;
        let _ = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = parser
            .parse_object_name(false)
            .map_err(|e| fail(e, &parser))?;
        parser
            .expect_keyword(Keyword::AS)
            .map_err(|e| fail(e, &parser))?;
        let class = parser
            .parse_literal_string()
            .map_err(|e| fail(e, &parser))?;
        Statement::CreateFunction {
            name: object_name(&name),
            class,
        }
    } else if starts(&["EXPLAIN"]) {
        parser.next_token();
        let _ = parser.parse_keywords(&[Keyword::PLAN, Keyword::FOR]);
        let at = parser.peek_token().span.start;
        let inner: Vec<TokenWithSpan> = tokens_after(&parser_tokens, at);
        let Some(inner) = statement(script, inner)? else {
            return Err(sql_error(script, at, "EXPLAIN needs a statement"));
        };
        Statement::Explain(Box::new(inner))
    } else if starts(&["INSERT", "INTO"]) {
        parser.next_token();
        parser.next_token();
        let name = parser
            .parse_object_name(false)
            .map_err(|e| fail(e, &parser))?;
        let next = parser.peek_token();
        if next.token == Token::LParen {
            return Err(sql_error(
                script,
                next.span.start,
                "INSERT INTO with a column list is not supported yet: select the target's \
                 columns in order",
            ));
        }
        let query = blank_until(&text, first_at, next.span.start);
        Statement::Insert {
            table: object_name(&name),
            query,
        }
    } else {
        Statement::Query
    };
    Ok(Some(Located {
        statement,
        text,
        line,
    }))
}

/// The tokens of `text` with their positions, whitespace and comments left out: what the
/// rewrites of calls Flink SQL has and DataFusion does not (window TVFs, `FOR SYSTEM_TIME AS
/// OF`, `ML_PREDICT`) scan.
pub(crate) fn significant_tokens(text: &str) -> Result<Vec<TokenWithSpan>> {
    Ok(Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .map_err(|e| RiffleError::Sql(e.to_string()))?
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect())
}

/// The byte offset in `script` of position `at` (line and column from 1, columns in
/// characters), or `None` past its end.
pub(crate) fn offset(script: &str, at: Location) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..at.line {
        line_start += script[line_start..].find('\n')? + 1;
    }
    let line = &script[line_start..];
    let column = at.column.saturating_sub(1) as usize;
    match line.char_indices().nth(column) {
        Some((i, _)) => Some(line_start + i),
        None if line.chars().count() == column => Some(script.len()),
        None => None,
    }
}

/// The tokens of a statement from script position `at` on.
fn tokens_after(tokens: &[TokenWithSpan], at: Location) -> Vec<TokenWithSpan> {
    tokens
        .iter()
        .filter(|t| (t.span.start.line, t.span.start.column) >= (at.line, at.column))
        .cloned()
        .collect()
}

/// A statement's `text` (whose first token is at script position `first`) with everything
/// before script position `at` blanked out, so positions in the rest stay the statement's.
fn blank_until(text: &str, first: Location, at: Location) -> String {
    let line = at.line - first.line + 1;
    let column = if line == 1 {
        at.column - first.column + 1
    } else {
        at.column
    };
    blank_before(text, line, column)
}

/// `text` with every character before (`line`, `column`) (1-based) replaced by a space,
/// newlines kept.
fn blank_before(text: &str, line: u64, column: u64) -> String {
    let (mut l, mut c) = (1u64, 1u64);
    text.chars()
        .map(|ch| {
            let before = (l, c) < (line, column);
            if ch == '\n' {
                l += 1;
                c = 1;
            } else {
                c += 1;
            }
            if before && ch != '\n' {
                ' '
            } else {
                ch
            }
        })
        .collect()
}

/// A table name as the catalog keys it: unquoted parts lower-cased, as DataFusion does.
pub fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) if ident.quote_style.is_none() => ident.value.to_lowercase(),
            Some(ident) => ident.value.clone(),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn ident_name(ident: &datafusion::sql::sqlparser::ast::Ident) -> String {
    if ident.quote_style.is_none() {
        ident.value.to_lowercase()
    } else {
        ident.value.clone()
    }
}

fn set(parser: &mut Parser) -> std::result::Result<Option<(String, String)>, ParserError> {
    parser.expect_keyword(Keyword::SET)?;
    if parser.peek_token().token == Token::EOF {
        return Ok(None);
    }
    let key = parser.parse_literal_string()?;
    parser.expect_token(&Token::Eq)?;
    let value = parser.parse_literal_string()?;
    expect_end(parser)?;
    Ok(Some((key, value)))
}

fn expect_end(parser: &mut Parser) -> std::result::Result<(), ParserError> {
    let next = parser.peek_token();
    if next.token == Token::EOF {
        Ok(())
    } else {
        parser.expected("end of statement", next)
    }
}

/// A `CREATE TABLE`, and for `CREATE TABLE t WITH (...) AS query` where the query starts.
fn create_table(
    parser: &mut Parser,
) -> std::result::Result<(TableDef, Option<Location>), ParserError> {
    parser.expect_keyword(Keyword::CREATE)?;
    let _temporary = parser.parse_keyword(Keyword::TEMPORARY);
    parser.expect_keyword(Keyword::TABLE)?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = object_name(&parser.parse_object_name(false)?);
    let mut table = TableDef {
        name,
        columns: Vec::new(),
        watermark: None,
        primary_key: Vec::new(),
        partition_by: Vec::new(),
        options: BTreeMap::new(),
        if_not_exists,
    };
    // CREATE TABLE ... AS SELECT takes its columns from the query.
    let with_columns = parser.consume_token(&Token::LParen);
    if with_columns {
        loop {
            if parse_word(parser, "WATERMARK") {
                parser.expect_keyword(Keyword::FOR)?;
                let column = ident_name(&parser.parse_identifier()?);
                parser.expect_keyword(Keyword::AS)?;
                let expr = parser.parse_expr()?;
                table.watermark = Some(WatermarkDef { column, expr });
            } else if parser.parse_keywords(&[Keyword::PRIMARY, Keyword::KEY]) {
                table.primary_key = parser
                    .parse_parenthesized_column_list(
                        datafusion::sql::sqlparser::parser::IsOptional::Mandatory,
                        false,
                    )?
                    .iter()
                    .map(ident_name)
                    .collect();
                if !parser.parse_keywords(&[Keyword::NOT, Keyword::ENFORCED]) {
                    let next = parser.peek_token();
                    return parser.expected(
                        "NOT ENFORCED (Riffle, like Flink, does not check primary keys)",
                        next,
                    );
                }
            } else {
                table.columns.push(column(parser)?);
            }
            if parser.consume_token(&Token::Comma) {
                continue;
            }
            parser.expect_token(&Token::RParen)?;
            break;
        }
    }
    if parser.parse_keywords(&[Keyword::PARTITIONED, Keyword::BY]) {
        parser.expect_token(&Token::LParen)?;
        loop {
            table.partition_by.push(parser.parse_identifier()?.value);
            if parser.consume_token(&Token::Comma) {
                continue;
            }
            parser.expect_token(&Token::RParen)?;
            break;
        }
    }
    let next_word = match &parser.peek_token().token {
        Token::Word(w) => Some(w.keyword),
        _ => None,
    };
    if !with_columns && !matches!(next_word, Some(Keyword::WITH | Keyword::AS)) {
        let next = parser.peek_token();
        return parser.expected("( columns ), WITH (options) or AS query", next);
    }
    if parser.parse_keyword(Keyword::WITH) {
        table.options = with_options(parser)?;
    }
    if !with_columns {
        parser.expect_keyword(Keyword::AS)?;
        let at = parser.peek_token().span.start;
        return Ok((table, Some(at)));
    }
    expect_end(parser)?;
    Ok((table, None))
}

/// `('key' = 'value', ...)` after `WITH`.
fn with_options(parser: &mut Parser) -> std::result::Result<BTreeMap<String, String>, ParserError> {
    let mut options = BTreeMap::new();
    parser.expect_token(&Token::LParen)?;
    loop {
        let key = parser.parse_literal_string()?;
        parser.expect_token(&Token::Eq)?;
        let value = parser.parse_literal_string()?;
        options.insert(key, value);
        if parser.consume_token(&Token::Comma) {
            continue;
        }
        parser.expect_token(&Token::RParen)?;
        break;
    }
    Ok(options)
}

/// Consumes the next token if it is the word `word` (for Flink words `sqlparser` does not
/// have as keywords).
fn parse_word(parser: &mut Parser, word: &str) -> bool {
    match parser.peek_token().token {
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word) => {
            parser.next_token();
            true
        }
        _ => false,
    }
}

fn column(parser: &mut Parser) -> std::result::Result<ColumnDef, ParserError> {
    let name = ident_name(&parser.parse_identifier()?);
    if parser.parse_keyword(Keyword::AS) {
        let expr = parser.parse_expr()?;
        return Ok(ColumnDef {
            name,
            kind: ColumnKind::Computed(Box::new(expr)),
        });
    }
    let data_type = parser.parse_data_type()?;
    if parse_word(parser, "METADATA") {
        let key = if parser.parse_keyword(Keyword::FROM) {
            parser.parse_literal_string()?
        } else {
            name.clone()
        };
        let is_virtual = parse_word(parser, "VIRTUAL");
        return Ok(ColumnDef {
            name,
            kind: ColumnKind::Metadata {
                data_type,
                key,
                is_virtual,
            },
        });
    }
    let mut nullable = true;
    if parser.parse_keywords(&[Keyword::NOT, Keyword::NULL]) {
        nullable = false;
    } else {
        let _ = parser.parse_keyword(Keyword::NULL);
    }
    Ok(ColumnDef {
        name,
        kind: ColumnKind::Physical {
            data_type,
            nullable,
        },
    })
}

/// An error at `at` in `script`: the message, the position, and the line with a caret.
pub fn sql_error(script: &str, at: Location, message: &str) -> RiffleError {
    let message = message
        .trim_start_matches("sql parser error: ")
        .split(" at Line: ")
        .next()
        .unwrap_or(message);
    let line_text = script
        .lines()
        .nth(at.line.saturating_sub(1) as usize)
        .unwrap_or("");
    let caret = " ".repeat(at.column.saturating_sub(1) as usize);
    RiffleError::Sql(format!(
        "SQL error at line {}, column {}: {message}\n  {line_text}\n  {caret}^",
        at.line, at.column
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flink_create_table_parses_with_all_its_parts() {
        let script = "
            -- bids from the generator
            CREATE TABLE bids (
                auction BIGINT NOT NULL,
                price DOUBLE,
                dollars AS price / 100,
                ts TIMESTAMP(3),
                WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,
                PRIMARY KEY (auction) NOT ENFORCED
            ) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
            SET 'parallelism.default' = '2';
            SELECT * FROM bids;";
        let statements = parse_script(script).unwrap();
        assert_eq!(statements.len(), 3);
        let Statement::CreateTable(table) = &statements[0].statement else {
            panic!("{:?}", statements[0]);
        };
        assert_eq!(table.name, "bids");
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["auction", "price", "dollars", "ts"]);
        assert!(matches!(
            table.columns[0].kind,
            ColumnKind::Physical {
                nullable: false,
                ..
            }
        ));
        assert!(matches!(table.columns[2].kind, ColumnKind::Computed(_)));
        assert_eq!(table.watermark.as_ref().unwrap().column, "ts");
        assert_eq!(table.primary_key, ["auction"]);
        assert_eq!(table.options["number-of-rows"], "10");
        assert_eq!(statements[0].line, 3);
        assert_eq!(
            statements[1].statement,
            Statement::Set(Some(("parallelism.default".into(), "2".into())))
        );
        assert_eq!(statements[2].statement, Statement::Query);
        assert_eq!(statements[2].text, "SELECT * FROM bids");
    }

    #[test]
    fn a_ddl_mistake_points_at_its_line_and_column() {
        let script =
            "CREATE TABLE t (\n  a BIGINT,\n  PRIMARY KEY (a)\n) WITH ('connector' = 'datagen')";
        let error = parse_script(script).unwrap_err().to_string();
        assert!(error.contains("line 4, column 1"), "{error}");
        assert!(error.contains("NOT ENFORCED"), "{error}");
        assert!(
            error.ends_with(") WITH ('connector' = 'datagen')\n  ^"),
            "{error}"
        );
    }
}
