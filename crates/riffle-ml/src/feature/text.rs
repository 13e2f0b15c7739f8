//! Text features: [`Tokenizer`] (strings to token lists), [`HashingTf`] (token lists to
//! hashed term counts; tokens land in the slots [`super::FeatureHasher`] would give them,
//! MurmurHash3 as scikit-learn uses it, see [`super::murmur3_32`]) and [`Idf`] (inverse
//! document frequencies).

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::hashing::{check_num_features, hashed_slot};
use super::{drop_rows, vector_column, HandleInvalid};
use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// How [`Tokenizer`] cuts text into tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenPattern {
    /// Maximal runs of letters and digits (any script); everything else separates.
    #[default]
    Alphanumeric,
    /// Maximal runs of letters, digits and `_` — the regex `\w+`. With
    /// `min_token_length = 2` this is scikit-learn's default `token_pattern`
    /// (`(?u)\b\w\w+\b`).
    Word,
    /// Split on whitespace, keeping punctuation in the tokens — Spark's `Tokenizer`.
    Whitespace,
    /// Split on any of the characters in `delimiters` — a `RegexTokenizer` whose pattern is a
    /// character class (`[,;|]` with `gaps = true`).
    Delimiters,
}

/// Cuts a text column into a `List<Utf8>` column of tokens, lower-cased by default.
///
/// The crate has no regular-expression engine, so instead of Spark's `RegexTokenizer`
/// pattern there is [`TokenPattern`]: the common patterns (alphanumeric runs, `\w+`,
/// whitespace, a set of delimiter characters) plus `min_token_length`. Missing text follows
/// `handle_invalid`: an error naming the row, the row dropped (skip), or no tokens (keep).
///
/// ```
/// use riffle_ml::{data, feature::Tokenizer, Transformer};
/// let t = data::float_table(vec![("id", vec![1.0])]).unwrap();
/// let text = std::sync::Arc::new(arrow_array::StringArray::from(vec!["Hello, World! 42"]));
/// let t = data::with_column(&t, "text", text).unwrap();
/// let tokens = Tokenizer::default().transform(&t).unwrap();
/// assert_eq!(riffle_ml::feature::read_tokens(&tokens, "tokens").unwrap()[0], vec!["hello", "world", "42"]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tokenizer {
    /// Text column read.
    pub input_col: String,
    /// Token-list column written.
    pub output_col: String,
    /// How text is cut.
    pub pattern: TokenPattern,
    /// The separating characters of [`TokenPattern::Delimiters`].
    pub delimiters: String,
    /// Lower-case the text first.
    pub lowercase: bool,
    /// Shorter tokens (in characters) are dropped.
    pub min_token_length: usize,
    /// Missing text.
    pub handle_invalid: HandleInvalid,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer {
            input_col: "text".into(),
            output_col: "tokens".into(),
            pattern: TokenPattern::Alphanumeric,
            delimiters: String::new(),
            lowercase: true,
            min_token_length: 1,
            handle_invalid: HandleInvalid::Error,
        }
    }
}

impl Tokenizer {
    /// The tokens of `text`.
    pub fn tokens<'a>(&self, text: &'a str) -> Vec<&'a str> {
        let separates = |c: char| match self.pattern {
            TokenPattern::Alphanumeric => !c.is_alphanumeric(),
            TokenPattern::Word => !(c.is_alphanumeric() || c == '_'),
            TokenPattern::Whitespace => c.is_whitespace(),
            TokenPattern::Delimiters => self.delimiters.contains(c),
        };
        text.split(separates)
            .filter(|t| !t.is_empty() && t.chars().count() >= self.min_token_length)
            .collect()
    }
}

impl Transformer for Tokenizer {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        if self.pattern == TokenPattern::Delimiters && self.delimiters.is_empty() {
            return Err(MlError::param(
                "delimiters",
                "the delimiters pattern needs at least one delimiter character",
            ));
        }
        let array = data::column(table, &self.input_col)?;
        if !matches!(
            array.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _)
        ) {
            return Err(MlError::data(format!(
                "column `{}` is {}, not text; a tokenizer reads strings",
                self.input_col,
                array.data_type()
            )));
        }
        let texts = arrow_cast::cast(array, &DataType::Utf8)?;
        let texts = texts.as_string::<i32>();
        let mut builder = ListBuilder::new(StringBuilder::new());
        let mut drop = vec![false; texts.len()];
        let mut lowered = String::new();
        for (row, dropped) in drop.iter_mut().enumerate() {
            if texts.is_null(row) {
                match self.handle_invalid {
                    HandleInvalid::Error => {
                        return Err(MlError::data(format!(
                            "column `{}` has a missing value at row {row}; impute it or set handle_invalid to keep (no tokens) or skip",
                            self.input_col
                        )))
                    }
                    HandleInvalid::Skip => *dropped = true,
                    HandleInvalid::Keep => {}
                }
                builder.append(true);
                continue;
            }
            let text = texts.value(row);
            let text = if self.lowercase {
                lowered.clear();
                lowered.extend(text.chars().flat_map(char::to_lowercase));
                lowered.as_str()
            } else {
                text
            };
            for token in self.tokens(text) {
                builder.values().append_value(token);
            }
            builder.append(true);
        }
        let out = data::with_column(table, &self.output_col, Arc::new(builder.finish()))?;
        drop_rows(&out, &drop)
    }
}

impl Model for Tokenizer {
    fn parts(&self) -> Result<ModelParts> {
        ModelParts::new(Self::KIND, self)
    }
}

impl Loadable for Tokenizer {
    const KIND: &'static str = "Tokenizer";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        parts.meta()
    }
}

/// The token lists in column `name` (a `List` of strings), one `Vec` per row. A missing list
/// or a missing token is an error naming the row.
pub fn read_tokens(table: &RecordBatch, name: &str) -> Result<Vec<Vec<String>>> {
    let lists = token_lists(table, name)?;
    let mut out = Vec::with_capacity(lists.len());
    for_each_token_list(&lists, name, |_, tokens| {
        out.push(tokens.iter().map(|t| t.to_string()).collect());
        Ok(())
    })?;
    Ok(out)
}

fn token_lists(table: &RecordBatch, name: &str) -> Result<arrow_array::ListArray> {
    let array = data::column(table, name)?;
    let target = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
    let is_list = matches!(
        array.data_type(),
        DataType::List(_) | DataType::LargeList(_)
    );
    let cast = is_list
        .then(|| arrow_cast::cast(array, &target).ok())
        .flatten()
        .ok_or_else(|| {
            MlError::data(format!(
                "column `{name}` is {}, not a list of strings; tokenize it first (Tokenizer)",
                array.data_type()
            ))
        })?;
    Ok(cast.as_list::<i32>().clone())
}

/// Calls `f(row, tokens)` for each row's token list, refusing missing lists and tokens.
fn for_each_token_list(
    lists: &arrow_array::ListArray,
    name: &str,
    mut f: impl FnMut(usize, &[&str]) -> Result<()>,
) -> Result<()> {
    let strings = lists
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| MlError::data(format!("column `{name}` does not hold lists of strings")))?;
    let offsets = lists.value_offsets();
    // One buffer for all rows: the tokens borrow from the column, not from a row slice.
    let mut tokens: Vec<&str> = Vec::new();
    for row in 0..lists.len() {
        if lists.is_null(row) {
            return Err(MlError::data(format!(
                "column `{name}` has a missing token list at row {row}"
            )));
        }
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        tokens.clear();
        for i in start..end {
            if strings.is_null(i) {
                return Err(MlError::data(format!(
                    "column `{name}` has a missing token at row {row}, position {}",
                    i - start
                )));
            }
            tokens.push(strings.value(i));
        }
        f(row, &tokens)?;
    }
    Ok(())
}

/// Term frequencies by hashing: each token of a `List<Utf8>` column adds 1 to slot
/// `|murmur3(token)| mod num_features` of a vector (see [`super::murmur3_32`]), as
/// scikit-learn's `HashingVectorizer(norm=None)` and Spark's `HashingTF`. With `binary`, a
/// slot is 1 when any token hits it (whatever `alternate_sign`, as in scikit-learn); with
/// `alternate_sign`, a token adds its hash's sign instead of 1, so collisions cancel on
/// average (scikit-learn's default; off here, as in Spark, so that the values are counts).
/// Needs no fitting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HashingTf {
    /// Token-list column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// Vector length.
    pub num_features: usize,
    /// 1 for present terms instead of counts.
    pub binary: bool,
    /// Add the hash's sign instead of 1.
    pub alternate_sign: bool,
}

impl Default for HashingTf {
    fn default() -> Self {
        HashingTf {
            input_col: "tokens".into(),
            output_col: "tf".into(),
            num_features: 1024,
            binary: false,
            alternate_sign: false,
        }
    }
}

impl Transformer for HashingTf {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        check_num_features(self.num_features)?;
        let lists = token_lists(table, &self.input_col)?;
        let n = self.num_features;
        let mut m = Matrix::zeros(lists.len(), n);
        let rows = m.as_mut_slice();
        for_each_token_list(&lists, &self.input_col, |row, tokens| {
            let out = &mut rows[row * n..(row + 1) * n];
            for token in tokens {
                let (slot, sign) = hashed_slot(token.as_bytes(), n);
                if self.binary {
                    // scikit-learn sets every present slot to 1, whatever the sign.
                    out[slot] = 1.0;
                } else {
                    out[slot] += if self.alternate_sign { sign } else { 1.0 };
                }
            }
            Ok(())
        })?;
        data::with_column(table, &self.output_col, vector_column(m)?)
    }
}

impl Model for HashingTf {
    fn parts(&self) -> Result<ModelParts> {
        ModelParts::new(Self::KIND, self)
    }
}

impl Loadable for HashingTf {
    const KIND: &'static str = "HashingTf";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        parts.meta()
    }
}

/// Fits inverse document frequencies on a vector column of term counts (from [`HashingTf`]):
/// with `n` rows (documents) and `df` of them holding the term,
/// `idf = ln((1 + n) / (1 + df)) + 1` when `smooth` (scikit-learn's `TfidfTransformer`
/// default), else `ln(n / df) + 1`. Terms in fewer than `min_doc_freq` documents get
/// `idf = 0`, as in Spark (so does a term in no document without `smooth`). The model
/// multiplies each count by its term's idf; normalise the rows afterwards
/// ([`super::Normalizer`]) for scikit-learn's `norm="l2"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Idf {
    /// Vector column of term counts read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// Terms in fewer documents are zeroed.
    pub min_doc_freq: usize,
    /// Add one to both counts, as if one document held every term.
    pub smooth: bool,
}

impl Default for Idf {
    fn default() -> Self {
        Idf {
            input_col: "tf".into(),
            output_col: "tfidf".into(),
            min_doc_freq: 0,
            smooth: true,
        }
    }
}

impl Estimator for Idf {
    type Model = IdfModel;

    fn fit(&self, table: &RecordBatch) -> Result<IdfModel> {
        let x = data::read_vectors(table, &self.input_col)?;
        if x.rows() == 0 {
            return Err(MlError::data("cannot fit IDF on a table with no rows"));
        }
        let width = x.cols();
        let doc_freq = x
            .as_slice()
            .par_chunks(width.max(1) * 4096)
            .map(|chunk| {
                let mut df = vec![0usize; width];
                for row in chunk.chunks_exact(width.max(1)) {
                    df.iter_mut()
                        .zip(row)
                        .for_each(|(d, v)| *d += usize::from(*v != 0.0));
                }
                df
            })
            .reduce(
                || vec![0usize; width],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let n = x.rows() as f64;
        let idf = doc_freq
            .iter()
            .map(|&df| {
                if df < self.min_doc_freq {
                    0.0
                } else if self.smooth {
                    ((1.0 + n) / (1.0 + df as f64)).ln() + 1.0
                } else if df == 0 {
                    0.0
                } else {
                    (n / df as f64).ln() + 1.0
                }
            })
            .collect();
        Ok(IdfModel {
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            idf,
            doc_freq: doc_freq.into_iter().map(|d| d as u64).collect(),
            n_docs: x.rows() as u64,
        })
    }
}

/// A fitted [`Idf`]: one weight per term slot.
#[derive(Clone, Debug, PartialEq)]
pub struct IdfModel {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// The weight of each slot.
    pub idf: Vec<f64>,
    /// In how many training documents each slot was non-zero.
    pub doc_freq: Vec<u64>,
    /// Training documents.
    pub n_docs: u64,
}

impl Transformer for IdfModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let mut x = data::read_vectors(table, &self.input_col)?;
        if x.cols() != self.idf.len() && x.rows() > 0 {
            return Err(MlError::data(format!(
                "the model was fitted on {} features, but `{}` has {} per row",
                self.idf.len(),
                self.input_col,
                x.cols()
            )));
        }
        if !self.idf.is_empty() {
            x.as_mut_slice()
                .par_chunks_mut(self.idf.len())
                .for_each(|row| row.iter_mut().zip(&self.idf).for_each(|(v, w)| *v *= w));
        }
        data::with_column(table, &self.output_col, vector_column(x)?)
    }
}

#[derive(Serialize, Deserialize)]
struct IdfMeta {
    input_col: String,
    output_col: String,
    n_docs: u64,
    doc_freq: Vec<u64>,
}

impl Model for IdfModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = IdfMeta {
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            n_docs: self.n_docs,
            doc_freq: self.doc_freq.clone(),
        };
        Ok(ModelParts::new(Self::KIND, &meta)?.with_f64("idf", &self.idf))
    }
}

impl Loadable for IdfModel {
    const KIND: &'static str = "IdfModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: IdfMeta = parts.meta()?;
        Ok(IdfModel {
            input_col: meta.input_col,
            output_col: meta.output_col,
            idf: parts.f64("idf")?,
            doc_freq: meta.doc_freq,
            n_docs: meta.n_docs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;

    fn texts(values: Vec<Option<&str>>) -> RecordBatch {
        let t =
            data::float_table(vec![("id", (0..values.len()).map(|i| i as f64).collect())]).unwrap();
        data::with_column(&t, "text", Arc::new(StringArray::from(values))).unwrap()
    }

    #[test]
    fn tokens_follow_the_pattern_and_missing_text_the_policy() {
        let t = texts(vec![Some("Hello, wörld! a_b x"), None]);
        let err = Tokenizer::default().transform(&t).unwrap_err().to_string();
        assert!(
            err.contains("column `text`") && err.contains("row 1"),
            "{err}"
        );
        let keep = Tokenizer {
            handle_invalid: HandleInvalid::Keep,
            ..Default::default()
        };
        let tokens = read_tokens(&keep.transform(&t).unwrap(), "tokens").unwrap();
        assert_eq!(tokens[0], vec!["hello", "wörld", "a", "b", "x"]);
        assert!(tokens[1].is_empty());
        let word = Tokenizer {
            pattern: TokenPattern::Word,
            min_token_length: 2,
            lowercase: false,
            handle_invalid: HandleInvalid::Skip,
            ..Default::default()
        };
        let out = word.transform(&t).unwrap();
        assert_eq!(out.num_rows(), 1);
        assert_eq!(
            read_tokens(&out, "tokens").unwrap()[0],
            vec!["Hello", "wörld", "a_b"]
        );
        let delimiters = Tokenizer {
            pattern: TokenPattern::Delimiters,
            delimiters: ",!".into(),
            ..keep.clone()
        };
        assert_eq!(delimiters.tokens("a b,c!!d"), vec!["a b", "c", "d"]);
        let dir = tempfile::tempdir().unwrap();
        crate::persist::save(&delimiters, dir.path()).unwrap();
        assert_eq!(
            crate::persist::load::<Tokenizer>(dir.path()).unwrap(),
            delimiters
        );
        let err = Tokenizer {
            pattern: TokenPattern::Delimiters,
            ..Default::default()
        }
        .transform(&t)
        .unwrap_err()
        .to_string();
        assert!(err.contains("`delimiters`"), "{err}");
    }

    #[test]
    fn hashed_counts_idf_weights_and_round_trips() {
        let t = texts(vec![Some("a b a"), Some("b c"), Some("c c c d")]);
        let t = Tokenizer::default().transform(&t).unwrap();
        let tf = HashingTf {
            num_features: 64,
            ..Default::default()
        };
        let t = tf.transform(&t).unwrap();
        let counts = data::read_vectors(&t, "tf").unwrap();
        let slot = |s: &str| hashed_slot(s.as_bytes(), 64).0;
        assert_eq!(counts.get(0, slot("a")), 2.0);
        assert_eq!(counts.get(2, slot("c")), 3.0);
        assert_eq!(counts.row(1).iter().sum::<f64>(), 2.0);
        let binary = HashingTf {
            binary: true,
            ..tf.clone()
        };
        let b = data::read_vectors(&binary.transform(&t).unwrap(), "tf").unwrap();
        assert_eq!(b.get(2, slot("c")), 1.0);

        let model = Idf::default().fit(&t).unwrap();
        // 3 documents; "b" in 2 of them: ln(4 / 3) + 1.
        assert!((model.idf[slot("b")] - ((4.0f64 / 3.0).ln() + 1.0)).abs() < 1e-15);
        assert_eq!(model.doc_freq[slot("c")], 2);
        let tfidf = data::read_vectors(&model.transform(&t).unwrap(), "tfidf").unwrap();
        assert_eq!(tfidf.get(2, slot("c")), 3.0 * model.idf[slot("c")]);
        let rare = Idf {
            min_doc_freq: 2,
            ..Default::default()
        }
        .fit(&t)
        .unwrap();
        assert_eq!(rare.idf[slot("a")], 0.0);
        assert!(rare.idf[slot("b")] > 0.0);

        let dir = tempfile::tempdir().unwrap();
        crate::persist::save(&model, dir.path()).unwrap();
        assert_eq!(crate::persist::load::<IdfModel>(dir.path()).unwrap(), model);
        crate::persist::save(&tf, dir.path()).unwrap();
        assert_eq!(crate::persist::load::<HashingTf>(dir.path()).unwrap(), tf);
        let err = HashingTf {
            num_features: 0,
            ..tf
        }
        .transform(&t)
        .unwrap_err()
        .to_string();
        assert!(err.contains("`num_features`"), "{err}");
    }
}
