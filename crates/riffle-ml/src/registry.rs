//! Rebuilding any saved model from its parts, by kind.

use crate::cluster::KMeansModel;
use crate::error::{MlError, Result};
use crate::feature::{
    Bucketizer, FeatureHasher, FeatureSelectorModel, HashingTf, IdfModel, ImputerModel,
    IndexToString, Normalizer, OneHotEncoderModel, OutlierClipperModel, PcaModel,
    PolynomialExpansion, ScalerModel, StringIndexerModel, Tokenizer, VectorAssembler,
};
use crate::linear::{LinearRegressionModel, LogisticRegressionModel};
use crate::naive_bayes::{GaussianNaiveBayesModel, MultinomialNaiveBayesModel};
use crate::neighbors::{KNearestNeighborsClassifierModel, KNearestNeighborsRegressorModel};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Model, PipelineModel};
use crate::recommendation::AlsModel;
use crate::svm::LinearSVCModel;
use crate::tree::{
    DecisionTreeClassifierModel, DecisionTreeRegressorModel, GradientBoostedTreesClassifierModel,
    GradientBoostedTreesRegressorModel, RandomForestClassifierModel, RandomForestRegressorModel,
};

fn boxed<M: Loadable + Model + 'static>(parts: &ModelParts) -> Result<Box<dyn Model>> {
    Ok(Box::new(M::from_parts(parts)?))
}

/// The model `parts` describe.
pub(crate) fn model_from_parts(parts: &ModelParts) -> Result<Box<dyn Model>> {
    match parts.kind.as_str() {
        PipelineModel::KIND => boxed::<PipelineModel>(parts),
        LinearRegressionModel::KIND => boxed::<LinearRegressionModel>(parts),
        LogisticRegressionModel::KIND => boxed::<LogisticRegressionModel>(parts),
        VectorAssembler::KIND => boxed::<VectorAssembler>(parts),
        ScalerModel::KIND => boxed::<ScalerModel>(parts),
        Normalizer::KIND => boxed::<Normalizer>(parts),
        StringIndexerModel::KIND => boxed::<StringIndexerModel>(parts),
        IndexToString::KIND => boxed::<IndexToString>(parts),
        OneHotEncoderModel::KIND => boxed::<OneHotEncoderModel>(parts),
        ImputerModel::KIND => boxed::<ImputerModel>(parts),
        AlsModel::KIND => boxed::<AlsModel>(parts),
        GaussianNaiveBayesModel::KIND => boxed::<GaussianNaiveBayesModel>(parts),
        MultinomialNaiveBayesModel::KIND => boxed::<MultinomialNaiveBayesModel>(parts),
        KNearestNeighborsClassifierModel::KIND => boxed::<KNearestNeighborsClassifierModel>(parts),
        KNearestNeighborsRegressorModel::KIND => boxed::<KNearestNeighborsRegressorModel>(parts),
        KMeansModel::KIND => boxed::<KMeansModel>(parts),
        LinearSVCModel::KIND => boxed::<LinearSVCModel>(parts),
        DecisionTreeClassifierModel::KIND => boxed::<DecisionTreeClassifierModel>(parts),
        DecisionTreeRegressorModel::KIND => boxed::<DecisionTreeRegressorModel>(parts),
        RandomForestClassifierModel::KIND => boxed::<RandomForestClassifierModel>(parts),
        RandomForestRegressorModel::KIND => boxed::<RandomForestRegressorModel>(parts),
        GradientBoostedTreesClassifierModel::KIND => {
            boxed::<GradientBoostedTreesClassifierModel>(parts)
        }
        GradientBoostedTreesRegressorModel::KIND => {
            boxed::<GradientBoostedTreesRegressorModel>(parts)
        }
        crate::online::table::OnlineLearnerModel::KIND => {
            boxed::<crate::online::table::OnlineLearnerModel>(parts)
        }
        Bucketizer::KIND => boxed::<Bucketizer>(parts),
        Tokenizer::KIND => boxed::<Tokenizer>(parts),
        HashingTf::KIND => boxed::<HashingTf>(parts),
        IdfModel::KIND => boxed::<IdfModel>(parts),
        FeatureHasher::KIND => boxed::<FeatureHasher>(parts),
        PolynomialExpansion::KIND => boxed::<PolynomialExpansion>(parts),
        PcaModel::KIND => boxed::<PcaModel>(parts),
        FeatureSelectorModel::KIND => boxed::<FeatureSelectorModel>(parts),
        OutlierClipperModel::KIND => boxed::<OutlierClipperModel>(parts),
        other => Err(MlError::data(format!(
            "unknown model kind `{other}` (written by a newer riffle?)"
        ))),
    }
}
