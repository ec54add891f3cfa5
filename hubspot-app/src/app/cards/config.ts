// Written by hubspot-app/hsmeta.py from hubspot-app/deployment.json: change the URL there.
export const HUBNOX_BASE_URL = "https://hubnox.example.com";
