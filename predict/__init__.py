"""``avemo predict``: a trained model on any video (the application layer, above the pipeline,
the feature store and the trainer: it computes features with the extraction stages' own
functions and runs the model).

    from avemo.predict.model import Predictor
    predictor = Predictor("models/gru.keras")
    result = predictor.predict("interview.mp4")   # .label, .probabilities, .timeline

(The package itself imports nothing heavy, so that ``avemo --help`` does not load Keras.)
"""
