"""Learning-rate schedules and the optimizer recipes use."""

import keras

from zoo.errors import UsageError


@keras.saving.register_keras_serializable(package="zoo")
class TransformerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The inverse-square-root ("Noam") warm-up schedule of Vaswani et al. (2017).

    `lr(step) = scale * d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)`,
    with `step` counted from 1: it rises linearly for `warmup_steps` steps, peaks at
    `scale / sqrt(d_model * warmup_steps)`, then decays as `1 / sqrt(step)`.

    Args:
        d_model: the model width.
        warmup_steps: steps of linear warm-up.
        scale: a factor on the whole curve (1.0 in the paper).

    Example:

    >>> from zoo.training import TransformerSchedule
    >>> schedule = TransformerSchedule(d_model=512, warmup_steps=4000)
    >>> round(float(schedule(3999)), 6)  # the peak, at step 4000
    0.000699
    """

    def __init__(self, d_model, warmup_steps, scale=1.0):
        if d_model <= 0 or warmup_steps <= 0:
            raise UsageError(
                f"TransformerSchedule needs a positive d_model and warmup_steps, got "
                f"d_model={d_model}, warmup_steps={warmup_steps}."
            )
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        self.scale = scale

    @classmethod
    def from_peak(cls, peak_learning_rate, warmup_steps):
        """The schedule that reaches `peak_learning_rate` at step `warmup_steps`.

        Example:

        >>> from zoo.training import TransformerSchedule
        >>> schedule = TransformerSchedule.from_peak(1e-3, warmup_steps=100)
        >>> round(float(schedule(99)), 6)
        0.001
        """
        if peak_learning_rate <= 0:
            raise UsageError(f"The learning rate must be positive, got {peak_learning_rate}.")
        return cls(d_model=1, warmup_steps=warmup_steps,
                   scale=float(peak_learning_rate) * float(warmup_steps) ** 0.5)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32") + 1.0
        warmup = float(self.warmup_steps)
        rate = keras.ops.minimum(keras.ops.rsqrt(step), step * warmup**-1.5)
        return self.scale * float(self.d_model) ** -0.5 * rate

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps, "scale": self.scale}


SCHEDULES = ("inverse_sqrt", "cosine")


def build_optimizer(learning_rate=1e-3, clipnorm=None, warmup_steps=None,
                    schedule="inverse_sqrt", total_steps=None):
    """Adam for the recipes, with a warm-up schedule when `warmup_steps` is given.

    With `warmup_steps`, `learning_rate` is the peak: the rate rises linearly to it over
    `warmup_steps` steps, then decays as `1 / sqrt(step)` (`schedule="inverse_sqrt"`,
    `TransformerSchedule.from_peak`) or along a cosine to 0 at `total_steps`
    (`schedule="cosine"`, Keras' `CosineDecay`; better when the step budget is short
    and known). A `TransformerSchedule` may also be passed as `learning_rate` (the
    paper's `d_model` form). With a schedule Adam uses the paper's β2 = 0.98, ε = 1e-9;
    otherwise Keras' Adam defaults.

    Gradient clipping bounds the global norm of the gradients. Keras clips before the
    cross-replica sum, so under a strategy with n replicas each replica's share is
    clipped and the summed gradient's norm is at most n * clipnorm.

    Args:
        learning_rate: a float (the peak with `warmup_steps`) or a `LearningRateSchedule`.
        clipnorm: the largest global gradient norm, or None for no clipping.
        warmup_steps: steps of linear warm-up, or None for a constant rate.
        schedule: the decay after the warm-up, `"inverse_sqrt"` or `"cosine"`.
        total_steps: all training steps, warm-up included (needed by `"cosine"`).

    Example:

    >>> from zoo.training import build_optimizer
    >>> optimizer = build_optimizer(2e-3, clipnorm=1.0, warmup_steps=300)
    >>> round(float(optimizer.learning_rate), 6)  # step 1 of 300
    7e-06
    >>> cosine = build_optimizer(2e-3, warmup_steps=300, schedule="cosine", total_steps=3000)
    """
    if clipnorm is not None and clipnorm <= 0:
        raise UsageError(f"clipnorm must be positive (got {clipnorm}); pass None to disable "
                         "clipping.")
    if schedule not in SCHEDULES:
        raise UsageError(f"Unknown learning-rate schedule {schedule!r}; choose one of "
                         f"{', '.join(SCHEDULES)}.")
    if warmup_steps is not None:
        if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            raise UsageError("Pass either warmup_steps with a peak learning rate, or a "
                             "learning-rate schedule, not both.")
        if learning_rate <= 0:
            raise UsageError(f"The learning rate must be positive, got {learning_rate}.")
        if schedule == "cosine":
            if total_steps is None or total_steps <= warmup_steps:
                raise UsageError(
                    f"The cosine schedule needs total_steps greater than warmup_steps "
                    f"({warmup_steps}), got {total_steps}: train longer or warm up less.")
            learning_rate = keras.optimizers.schedules.CosineDecay(
                0.0, decay_steps=total_steps - warmup_steps, warmup_target=learning_rate,
                warmup_steps=warmup_steps)
        else:
            learning_rate = TransformerSchedule.from_peak(learning_rate, warmup_steps)
    if isinstance(learning_rate, (TransformerSchedule, keras.optimizers.schedules.CosineDecay)):
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.9, beta_2=0.98,
                                     epsilon=1e-9, global_clipnorm=clipnorm)
    return keras.optimizers.Adam(learning_rate=learning_rate, global_clipnorm=clipnorm)
