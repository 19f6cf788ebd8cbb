"""pip install for graspnet_ros (the ROS build uses CMakeLists.txt + package.xml).

Console script: ``graspnet-ros``. Interfaces in msg/ are compiled by the rosidl
CMake pipeline (scripts/build_interfaces.sh in a pip environment, colcon on a
ROS install), not by this file.
"""

from pathlib import Path

from setuptools import find_packages, setup

package_name = "graspnet_ros"
here = Path(__file__).parent


def data_dir(name: str) -> tuple[str, list[str]]:
    files = sorted(str(p) for p in (here / name).glob("*") if p.is_file() and p.name != "README.md")
    return f"share/{package_name}/{name}", [str(Path(f).relative_to(here)) for f in files]


setup(
    name=package_name,
    version="0.1.0",
    description="GraspNet-1Billion grasp detection, benchmark and robot execution for ROS 2",
    long_description=(here / "README.md").read_text(encoding="utf-8") if (here / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=[package_name, f"{package_name}.*"]),
    package_data={package_name: ["data/*.yaml", "data/checkpoints/*/*", "data/score_calibration/*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        data_dir("launch"),
        data_dir("config"),
        data_dir("msg"),
    ],
    install_requires=["numpy", "scipy", "open3d-cpu", "trimesh", "pyyaml", "matplotlib", "tqdm"],
    extras_require={"test": ["pytest"]},
    zip_safe=False,
    entry_points={"console_scripts": ["graspnet-ros = graspnet_ros.cli:main"]},
)
