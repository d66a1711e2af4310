"""The course: course.yml's modules, where the course lives, nbgrader's configuration, the exercise build."""
