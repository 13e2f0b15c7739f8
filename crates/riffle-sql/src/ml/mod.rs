//! Machine learning in SQL: `CREATE MODEL ... AS query` trains a riffle-ml model on a bounded
//! query's rows and saves it in the model catalog (a directory: one model directory per
//! model, loadable after a restart and by `riffle ml`); `ML_PREDICT(TABLE t, MODEL m)` and
//! the scalar `ML_PREDICT('m', column, ...)` score rows in batch and streaming queries;
//! `ML_RECOMMEND('m', user [, k])` lists an online recommender's top-k items for a user;
//! `ML_EVALUATE(TABLE t, MODEL m)` gives the model's metrics on a bounded table; `SHOW
//! MODELS`, `DESCRIBE MODEL`, `DROP MODEL`. A feature transformer (`'algorithm' =
//! 'standard-scaler'`, ...) is a model too, whose `ML_PREDICT` returns an `ARRAY<DOUBLE>`; an
//! online algorithm over an unbounded query keeps learning (a streaming job; [`ModelSink`]).
//!
//! Scoring is a scalar function per model (`__ml_predict_<model>`, [`ModelFunction`]),
//! registered when a query names the model: the table form is rewritten into a projection
//! that adds a `prediction` column, so it runs wherever a projection runs, on the runtime as
//! in DataFusion.

mod functions;

pub use functions::{function_name, ModelFunction, Output, DEFAULT_K};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};
use riffle_core::{did_you_mean, Batch, Result, RiffleError};
use riffle_ml::card::ModelCard;
use riffle_ml::feature::HandleInvalid;
use riffle_ml::online::table::OnlineTrainer;
use riffle_ml::standalone;
use riffle_ml::tabular::{self, Encoding, Impute, TrainSpec};
use riffle_ml::PipelineModel;
use riffle_runtime::{EventTime, Sink};

use crate::script::offset;

/// The setting that names the model catalog directory.
pub const CATALOG_SETTING: &str = "ml.model-catalog";
/// The catalog directory when the setting is absent (relative to the working directory).
pub const DEFAULT_CATALOG: &str = "riffle-models";

fn ml(e: riffle_ml::MlError) -> RiffleError {
    RiffleError::Ml(e.to_string())
}

/// The model catalog: a directory with one saved model per sub-directory.
pub struct Catalog {
    dir: PathBuf,
}

impl Catalog {
    /// The catalog in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Catalog { dir: dir.into() }
    }

    /// The catalog's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of model `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The models, by name.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join(riffle_ml::card::CARD_FILE).exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            // Versions being published are hidden directories.
            .filter(|name| !name.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    /// Whether model `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.path(name).join(riffle_ml::card::CARD_FILE).exists()
    }

    /// Model `name` and its card; an unknown name gets the nearest existing one.
    pub fn load(&self, name: &str) -> Result<(PipelineModel, ModelCard)> {
        if !self.contains(name) {
            return Err(self.unknown(name));
        }
        let dir = self.path(name);
        let model: PipelineModel = riffle_ml::load(&dir).map_err(ml)?;
        let card = ModelCard::load(&dir).map_err(ml)?;
        Ok((model, card))
    }

    /// Saves `model` and `card` as model `name`, replacing the version there: the new version
    /// is written beside the catalog's models in a hidden directory and then renamed into
    /// place, so a reader finds one whole version or the other (for the instant between the
    /// two renames, none: a scoring function that reloads keeps its version then).
    pub fn publish(&self, name: &str, model: &PipelineModel, card: &ModelCard) -> Result<()> {
        let next = self
            .dir
            .join(format!(".{name}.next-{}", std::process::id()));
        let old = self.dir.join(format!(".{name}.old-{}", std::process::id()));
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            RiffleError::Ml(format!(
                "cannot publish model '{name}' in {} ({what}): {e}",
                self.dir.display()
            ))
        };
        let _ = std::fs::remove_dir_all(&next);
        riffle_ml::save(model, &next).map_err(|e| failed("saving", &e))?;
        card.save(&next)
            .map_err(|e| failed("saving its card", &e))?;
        let dir = self.path(name);
        let replaced = dir.exists();
        if replaced {
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(&dir, &old).map_err(|e| failed("moving the old version", &e))?;
        }
        std::fs::rename(&next, &dir).map_err(|e| failed("moving the new version", &e))?;
        if replaced {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    }

    /// Deletes model `name`; false if there was none.
    pub fn drop_model(&self, name: &str) -> Result<bool> {
        if !self.contains(name) {
            return Ok(false);
        }
        std::fs::remove_dir_all(self.path(name)).map_err(|e| {
            RiffleError::Ml(format!(
                "cannot delete model '{name}' ({}): {e}",
                self.path(name).display()
            ))
        })?;
        Ok(true)
    }

    /// The error for a model not in the catalog, naming the nearest one.
    pub(crate) fn unknown(&self, name: &str) -> RiffleError {
        let names = self.names();
        let hint = did_you_mean(name, names.iter().map(String::as_str));
        RiffleError::Sql(format!(
            "unknown model '{name}'{hint} (model catalog {})",
            self.dir.display()
        ))
    }
}

/// What `CREATE MODEL`'s options ask for: the training spec, and cross-validation folds.
pub struct ModelOptions {
    /// The algorithm, label, features, preparation and parameters.
    pub spec: TrainSpec,
    /// `'cv.folds'`: folds of a cross-validation run before the final fit.
    pub folds: Option<usize>,
    /// `'model.publish-interval'`: how often a streaming `CREATE MODEL` without checkpoints
    /// publishes a version (a Flink duration, `'1 s'` by default).
    pub publish_interval: Option<String>,
}

/// Reads `CREATE MODEL`'s `WITH` options: `'algorithm'` (required), `'label'`, `'features'`
/// (comma-separated; default every column but the label), `'encode'` (`onehot`, `index`),
/// `'impute'` (`mean`, `median`, `most-frequent`), `'scale'` (`standard`, `none`),
/// `'unseen'` (`error`, `keep`, `skip`), `'cv.folds'`, `'model.publish-interval'` (streaming);
/// every other option is a parameter of
/// the algorithm (`riffle ml algorithms` lists them).
pub fn model_options(options: &BTreeMap<String, String>) -> Result<ModelOptions> {
    let get = |key: &str| options.get(key).map(|v| v.trim());
    let Some(algorithm) = get("algorithm") else {
        return Err(RiffleError::Sql(
            "CREATE MODEL needs 'algorithm' = '...' in WITH (see `riffle ml algorithms`)".into(),
        ));
    };
    let bad = |key: &str, value: &str, allowed: &str| {
        RiffleError::Sql(format!("'{key}' = '{value}': use {allowed}"))
    };
    let mut spec = TrainSpec::new(algorithm, get("label").unwrap_or(""));
    if let Some(features) = get("features") {
        spec.features = features
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
    }
    spec.encode = match get("encode") {
        None | Some("none") => None,
        Some("onehot") => Some(Encoding::OneHot),
        Some("index") => Some(Encoding::Index),
        Some(other) => return Err(bad("encode", other, "'onehot', 'index' or 'none'")),
    };
    spec.impute = match get("impute") {
        None | Some("none") => None,
        Some("mean") => Some(Impute::Mean),
        Some("median") => Some(Impute::Median),
        Some("most-frequent") => Some(Impute::MostFrequent),
        Some(other) => {
            return Err(bad(
                "impute",
                other,
                "'mean', 'median', 'most-frequent' or 'none'",
            ))
        }
    };
    spec.standardize = match get("scale") {
        None | Some("none") => false,
        Some("standard") => true,
        Some(other) => return Err(bad("scale", other, "'standard' or 'none'")),
    };
    spec.unseen = match get("unseen") {
        None | Some("error") => HandleInvalid::Error,
        Some("keep") => HandleInvalid::Keep,
        Some("skip") => HandleInvalid::Skip,
        Some(other) => return Err(bad("unseen", other, "'error', 'keep' or 'skip'")),
    };
    let folds = match get("cv.folds") {
        None => None,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 2 => Some(n),
            _ => return Err(bad("cv.folds", v, "a whole number of at least 2")),
        },
    };
    const OURS: [&str; 9] = [
        "model.publish-interval",
        "algorithm",
        "label",
        "features",
        "encode",
        "impute",
        "scale",
        "unseen",
        "cv.folds",
    ];
    spec.params = options
        .iter()
        .filter(|(k, _)| !OURS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(ModelOptions {
        spec,
        folds,
        publish_interval: get("model.publish-interval").map(str::to_string),
    })
}

/// Trains `options` on `table`, with a cross-validation first when asked, and publishes the
/// model and its card as `name` in `catalog` (nothing is written unless training succeeds).
/// Returns the card (with the cross-validation's mean metric among its metrics).
pub fn train(
    options: &ModelOptions,
    table: RecordBatch,
    catalog: &Catalog,
    name: &str,
) -> Result<ModelCard> {
    let transformer = standalone::is_transformer(&options.spec.algorithm);
    let (model, card) = match (transformer, options.folds) {
        (true, Some(_)) => {
            return Err(RiffleError::Sql(
                "'cv.folds' cross-validates a model that predicts; a feature transformer has \
                 nothing to score"
                    .into(),
            ))
        }
        (true, None) => standalone::fit_transformer(&options.spec, table),
        (false, folds) => tabular::fit(&options.spec, table, folds),
    }
    .map_err(ml)?;
    catalog.publish(name, &model, &card)?;
    Ok(card)
}

/// Where a streaming `CREATE MODEL` publishes its model, and what it starts from.
#[derive(Clone, Debug)]
pub struct ModelTarget {
    /// The model's name in the catalog.
    pub name: String,
    /// The catalog directory.
    pub catalog: PathBuf,
    /// The untrained model and its feature columns.
    pub trainer: OnlineTrainer,
    /// The card, to which each version adds its rows and progressive metrics.
    pub card: ModelCard,
    /// Without checkpoints: publish a version at most this often while rows arrive (and at
    /// the end). With checkpoints, a version is published when a checkpoint completes.
    pub publish_every: Option<Duration>,
}

impl ModelTarget {
    /// Publishes `trainer`'s model as the newest version.
    pub fn publish(&self, trainer: &OnlineTrainer) -> Result<()> {
        let mut card = self.card.clone();
        card.trained_rows = trainer.model.rows() as usize;
        card.holdout_metrics = trainer.model.progressive_metrics();
        Catalog::new(&self.catalog).publish(&self.name, &trainer.pipeline(), &card)
    }
}

/// The sink of a streaming `CREATE MODEL`: one model learns every row (the stream is
/// gathered on the first worker), and its state is the sink's checkpointed state, so after
/// a restart it continues from the checkpoint without losing or repeating an update. A
/// version is published to the catalog when a checkpoint completes (the state of that
/// checkpoint), or, without checkpoints, within `publish_every` of learning new rows (on the
/// clock, also while no rows come) and at the end.
pub struct ModelSink {
    target: Arc<ModelTarget>,
    trainer: OnlineTrainer,
    /// The first worker learns; the others receive nothing and publish nothing.
    active: bool,
    /// Serialized states at the end of epochs not yet committed.
    pending: Vec<(u64, Vec<u8>)>,
    published: Instant,
    /// Rows were learned since the last version published on the clock.
    changed: bool,
}

impl ModelSink {
    /// The sink on worker `worker`.
    pub fn new(target: Arc<ModelTarget>, worker: usize) -> Self {
        ModelSink {
            trainer: target.trainer.clone(),
            target,
            active: worker == 0,
            pending: Vec::new(),
            published: Instant::now(),
            changed: false,
        }
    }

    fn state_error(&self, e: serde_json::Error) -> RiffleError {
        RiffleError::Ml(format!("model '{}': its state: {e}", self.target.name))
    }
}

impl Sink<Batch> for ModelSink {
    fn write(&mut self, records: &mut Vec<(EventTime, Batch)>) -> Result<()> {
        for (_, batch) in records.drain(..) {
            self.trainer.learn(&batch.0).map_err(|e| {
                let text = e.to_string();
                // The library's hint names its imputer; in SQL the query fills or filters.
                let hint = if text.contains("missing value") || text.contains("non-finite") {
                    "; in SQL, fill it in the query (COALESCE) or filter the row out \
                     (WHERE column IS NOT NULL)"
                } else {
                    ""
                };
                RiffleError::Ml(format!("CREATE MODEL {}: {text}{hint}", self.target.name))
            })?;
        }
        self.changed = true;
        self.tick()
    }

    fn tick_interval(&self) -> Option<Duration> {
        self.target.publish_every
    }

    fn tick(&mut self) -> Result<()> {
        if let Some(every) = self.target.publish_every {
            if self.active && self.changed && self.published.elapsed() >= every {
                self.target.publish(&self.trainer)?;
                self.published = Instant::now();
                self.changed = false;
            }
        }
        Ok(())
    }

    fn epoch_complete(&mut self, epoch: u64) -> Result<()> {
        if self.active {
            let state = serde_json::to_vec(&self.trainer).map_err(|e| self.state_error(e))?;
            self.pending.push((epoch, state));
        }
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Vec<u8>> {
        Ok(self
            .pending
            .last()
            .map(|(_, state)| state.clone())
            .unwrap_or_default())
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        let Some(at) = self.pending.iter().rposition(|(e, _)| *e <= epoch) else {
            return Ok(());
        };
        let state: OnlineTrainer =
            serde_json::from_slice(&self.pending[at].1).map_err(|e| self.state_error(e))?;
        self.pending.drain(..=at);
        self.target.publish(&state)
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<()> {
        if snapshot.is_empty() {
            return Ok(());
        }
        let restored: OnlineTrainer =
            serde_json::from_slice(snapshot).map_err(|e| self.state_error(e))?;
        if !restored.same_setup(&self.trainer) {
            return Err(RiffleError::Ml(format!(
                "model '{}': the checkpoint holds a model of another algorithm or features \
                 ({}) than the statement asks for ({}); restore the statement as it was, or \
                 start without --restore",
                self.target.name,
                restored.features.join(", "),
                self.trainer.features.join(", ")
            )));
        }
        self.trainer = restored;
        if self.active {
            self.target.publish(&self.trainer)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.active {
            self.target.publish(&self.trainer)?;
        }
        Ok(())
    }
}

/// One `ML_PREDICT` or `ML_EVALUATE` call found in a query's text.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `ML_PREDICT(TABLE t, MODEL m [, DESCRIPTOR(a, ...)])`.
    PredictTable {
        /// The scored table or view.
        table: String,
        /// The model.
        model: String,
        /// Columns to use as the features, in the model's order (default: the card's).
        columns: Vec<String>,
    },
    /// `ML_PREDICT('m', expr, ...)` or `ML_RECOMMEND('m', user [, k])`: the function's name
    /// is replaced by that of the model's function giving `output`.
    Scalar {
        /// The model.
        model: String,
        /// `Score` for `ML_PREDICT`, `Recommend` for `ML_RECOMMEND`.
        output: Output,
    },
    /// `ML_EVALUATE(TABLE t, MODEL m)`.
    Evaluate {
        /// The table the metrics are computed on.
        table: String,
        /// The model.
        model: String,
    },
}

/// A call and the byte range of the text it replaces.
pub struct Found {
    /// The call.
    pub call: Call,
    /// Bytes of the text it covers (the whole call for tables, the name and first argument
    /// for the scalar form).
    pub range: std::ops::Range<usize>,
}

fn ident(token: &Token) -> Option<String> {
    match token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_lowercase()),
        Token::Word(w) => Some(w.value.clone()),
        _ => None,
    }
}

fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// The `ML_PREDICT`, `ML_RECOMMEND` and `ML_EVALUATE` calls of `text`, in order.
pub fn find_calls(text: &str) -> Result<Vec<Found>> {
    if !text.to_uppercase().contains("ML_") {
        return Ok(Vec::new());
    }
    let tokens = crate::script::significant_tokens(text)?;
    let at = |t: &TokenWithSpan| offset(text, t.span.start);
    let end = |t: &TokenWithSpan| offset(text, t.span.end);
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < tokens.len() {
        let evaluate = is_word(&tokens[i].token, "ML_EVALUATE");
        let predict = is_word(&tokens[i].token, "ML_PREDICT");
        let recommend = is_word(&tokens[i].token, "ML_RECOMMEND");
        if !(evaluate || predict || recommend) || tokens[i + 1].token != Token::LParen {
            i += 1;
            continue;
        }
        let name = if evaluate {
            "ML_EVALUATE"
        } else if recommend {
            "ML_RECOMMEND"
        } else {
            "ML_PREDICT"
        };
        let error = |what: &str| {
            RiffleError::Sql(if recommend {
                format!("ML_RECOMMEND: expected {what} (write ML_RECOMMEND('m', user [, k]))")
            } else {
                format!(
                    "{name}: expected {what} (write {name}(TABLE t, MODEL m){})",
                    if predict {
                        " or ML_PREDICT('m', column, ...)"
                    } else {
                        ""
                    }
                )
            })
        };
        let start = at(&tokens[i]).ok_or_else(|| error("a call"))?;
        let first = tokens.get(i + 2).map(|t| &t.token);
        if recommend && !matches!(first, Some(Token::SingleQuotedString(_))) {
            return Err(error("the model's name in quotes"));
        }
        if let (true, Some(Token::SingleQuotedString(model))) = (predict || recommend, first) {
            let close = tokens
                .get(i + 2)
                .and_then(end)
                .ok_or_else(|| error("a model"))?;
            let has_more = tokens.get(i + 3).map(|t| &t.token) == Some(&Token::Comma);
            found.push(Found {
                call: Call::Scalar {
                    model: model.to_lowercase(),
                    output: if recommend {
                        Output::Recommend
                    } else {
                        Output::Score
                    },
                },
                // `ML_PREDICT('m', ` becomes `__ml_predict_m(`.
                range: start..if has_more {
                    tokens.get(i + 3).and_then(end).unwrap_or(close)
                } else {
                    close
                },
            });
            i += 3;
            continue;
        }
        let mut j = i + 2;
        let expect_word = |w: &str, j: &mut usize| -> Result<()> {
            if tokens.get(*j).is_some_and(|t| is_word(&t.token, w)) {
                *j += 1;
                Ok(())
            } else {
                Err(error(w))
            }
        };
        expect_word("TABLE", &mut j)?;
        let table = tokens
            .get(j)
            .and_then(|t| ident(&t.token))
            .ok_or_else(|| error("a table name after TABLE"))?;
        j += 1;
        if tokens.get(j).map(|t| &t.token) != Some(&Token::Comma) {
            return Err(error("', MODEL m' after the table"));
        }
        j += 1;
        expect_word("MODEL", &mut j)?;
        let model = tokens
            .get(j)
            .and_then(|t| ident(&t.token))
            .ok_or_else(|| error("a model name after MODEL"))?;
        j += 1;
        let mut columns = Vec::new();
        if predict && tokens.get(j).map(|t| &t.token) == Some(&Token::Comma) {
            j += 1;
            expect_word("DESCRIPTOR", &mut j)?;
            if tokens.get(j).map(|t| &t.token) != Some(&Token::LParen) {
                return Err(error("DESCRIPTOR(column, ...)"));
            }
            j += 1;
            while let Some(name) = tokens.get(j).and_then(|t| ident(&t.token)) {
                columns.push(name);
                j += 1;
                if tokens.get(j).map(|t| &t.token) == Some(&Token::Comma) {
                    j += 1;
                }
            }
            if tokens.get(j).map(|t| &t.token) != Some(&Token::RParen) {
                return Err(error("')' after the DESCRIPTOR columns"));
            }
            j += 1;
        }
        if tokens.get(j).map(|t| &t.token) != Some(&Token::RParen) {
            return Err(error("')'"));
        }
        let stop = tokens.get(j).and_then(end).ok_or_else(|| error("')'"))?;
        found.push(Found {
            call: if evaluate {
                Call::Evaluate { table, model }
            } else {
                Call::PredictTable {
                    table,
                    model,
                    columns,
                }
            },
            range: start..stop,
        });
        i = j + 1;
    }
    Ok(found)
}

/// `SELECT *, __ml_predict_m(features...) AS prediction FROM t` as a derived table.
pub fn predict_projection(table: &str, model: &str, features: &[String]) -> String {
    let args = features
        .iter()
        .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "(SELECT *, {}({args}) AS prediction FROM \"{table}\")",
        function_name(model, Output::Score)
    )
}

/// Metrics as a derived table of `(metric, value)` rows.
pub fn metrics_table(metrics: &BTreeMap<String, f64>) -> String {
    let rows = metrics
        .iter()
        .map(|(k, v)| {
            let value = if v.is_finite() {
                format!("CAST({v:?} AS DOUBLE)")
            } else {
                "CAST(NULL AS DOUBLE)".to_string()
            };
            format!("('{}', {value})", k.replace('\'', "''"))
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("(SELECT * FROM (VALUES {rows}) AS metrics(metric, value))")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_table_and_scalar_forms_with_their_ranges() {
        let text =
            "SELECT * FROM ML_PREDICT(TABLE houses, MODEL price) WHERE ML_PREDICT('m2', a, b) > 1";
        let found = find_calls(text).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].call,
            Call::PredictTable {
                table: "houses".into(),
                model: "price".into(),
                columns: vec![]
            }
        );
        assert_eq!(
            &text[found[0].range.clone()],
            "ML_PREDICT(TABLE houses, MODEL price)"
        );
        assert_eq!(
            found[1].call,
            Call::Scalar {
                model: "m2".into(),
                output: Output::Score
            }
        );
        assert_eq!(&text[found[1].range.clone()], "ML_PREDICT('m2',");
    }

    #[test]
    fn a_malformed_call_says_how_to_write_it() {
        let err = find_calls("SELECT * FROM ML_EVALUATE(houses, MODEL m)")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("ML_EVALUATE(TABLE t, MODEL m)"), "{err}");
    }

    #[test]
    fn options_split_into_the_spec_and_the_algorithm_parameters() {
        let options: BTreeMap<String, String> = [
            ("algorithm", "linear-regression"),
            ("label", "y"),
            ("features", "a, b"),
            ("scale", "standard"),
            ("cv.folds", "5"),
            ("reg_param", "0.1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let o = model_options(&options).unwrap();
        assert_eq!(o.folds, Some(5));
        assert_eq!(o.spec.features, vec!["a", "b"]);
        assert!(o.spec.standardize);
        assert_eq!(o.spec.params, vec![("reg_param".into(), "0.1".into())]);
        let err = model_options(&BTreeMap::new()).err().unwrap().to_string();
        assert!(err.contains("'algorithm'"), "{err}");
    }
}
