"""Tasks whose environments declare images (used by tests/images with both SDKs as clients)."""

import flyte

humanize_env = flyte.TaskEnvironment(
    "images-humanize", image=flyte.Image.from_debian_base().with_pip_packages("humanize")
)
broken_env = flyte.TaskEnvironment(
    "images-broken", image=flyte.Image.from_debian_base().with_pip_packages("flyte-test-no-such-package-h3")
)
apt_env = flyte.TaskEnvironment(
    "images-apt", image=flyte.Image.from_debian_base().with_apt_packages("git").with_pip_packages("humanize")
)


@humanize_env.task
async def commas(n: int) -> str:
    import humanize

    return humanize.intcomma(n)


@broken_env.task
async def broken() -> str:
    return "never runs"


@apt_env.task
async def apt_commas(n: int) -> str:
    import humanize

    return humanize.intcomma(n)
