//! Suggestions for misspelt names (columns, tables, options).

/// The candidate closest to `name` by edit distance (ignoring case), if one is close enough
/// to be a likely typo: at most a third of the name's length, and at least one edit allowed.
///
/// ```
/// use riffle_core::closest;
/// assert_eq!(closest("prce", ["auction", "price", "bidder"]), Some("price"));
/// assert_eq!(closest("zzz", ["auction", "price"]), None);
/// ```
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let name = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&name, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `"; did you mean 'x'?"` for the [`closest`] candidate, or nothing: the tail of an error
/// message about an unknown name.
///
/// ```
/// use riffle_core::did_you_mean;
/// assert_eq!(did_you_mean("prce", ["price"]), "; did you mean 'price'?");
/// assert_eq!(did_you_mean("zzz", ["price"]), "");
/// ```
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates)
        .map(|c| format!("; did you mean '{c}'?"))
        .unwrap_or_default()
}

/// Levenshtein distance between `a` and `b`, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn the_nearest_close_name_wins() {
        let columns = ["date_time", "auction", "price"];
        assert_eq!(closest("DATE_TIME", columns), Some("date_time"));
        assert_eq!(closest("datetime", columns), Some("date_time"));
        assert_eq!(closest("bidder", columns), None);
    }
}
