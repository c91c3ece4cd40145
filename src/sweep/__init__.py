"""fmnist-sweep: declarative Hyperopt sweeps over PyTorch models, recorded in MLflow."""
