"""Where extracts arrive: the landing folder (``folder``), the record of where a pulled file came
from (``origin``) and the deployment file that names each region's sources (``deployment``)."""
